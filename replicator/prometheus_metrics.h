// The replicator's Prometheus exposition at http://<metrics.listen>/metrics, read from
// EngineStats at scrape time. The one file of tern-replicator that sets up prometheus-cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "common/host_port.h"
#include "common/result.h"
#include "replicator/stats.h"

namespace tern::replicator {

class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
};

struct MetricsOptions {
  bool partition_lag = false;             // metrics.partition_lag
  std::int32_t partition_lag_limit = 100;  // metrics.partition_lag_limit
};

// Serves until the returned object is destroyed. Fails with IoError naming the address when it
// cannot bind.
Result<std::unique_ptr<MetricsServer>> StartMetricsServer(const HostPort& listen,
                                                         const EngineStats& stats,
                                                         const MetricsOptions& options);

}  // namespace tern::replicator
