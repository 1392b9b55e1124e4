// PrometheusMetrics: BrokerMetrics on prometheus-cpp, served as text at http://<listen>/metrics.
// Per-partition log size and end offset come from the topics at scrape time, for at most
// `max_partition_series` partitions (label count stays bounded); totals cover all partitions.
#pragma once

#include <memory>
#include <string>

#include "broker/cluster/topics.h"
#include "broker/metrics.h"
#include "common/host_port.h"
#include "common/result.h"

namespace tern::broker {

// Starts the HTTP exposer on `listen`. Fails with IoError naming the address when it cannot bind.
Result<std::unique_ptr<BrokerMetrics>> StartPrometheusMetrics(const HostPort& listen,
                                                              const Topics& topics,
                                                              std::size_t max_partition_series);

}  // namespace tern::broker
