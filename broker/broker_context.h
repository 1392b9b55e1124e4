// BrokerContext: what every handler reaches — the broker's identity and configuration, its
// topics and logs, the group commit, and the notifier that wakes waiting fetches. Owned by
// main; lives as long as the server. Network thread only, except where a member says otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "broker/cluster/topics.h"
#include "broker/data_notifier.h"
#include "broker/group_commit.h"
#include "broker/metrics.h"
#include "config/broker_config.h"

namespace tern::broker {

class BrokerContext {
 public:
  BrokerContext(BrokerConfig config, std::string cluster_id, HostPort advertised, Topics& topics,
                GroupCommit& group_commit, BrokerMetrics& metrics)
      : config_(std::move(config)),
        cluster_id_(std::move(cluster_id)),
        advertised_(std::move(advertised)),
        topics_(topics),
        group_commit_(group_commit),
        metrics_(metrics) {}

  const BrokerConfig& config() const { return config_; }
  std::int32_t node_id() const { return config_.node_id; }
  const std::string& cluster_id() const { return cluster_id_; }
  const HostPort& advertised() const { return advertised_; }
  Topics& topics() { return topics_; }
  GroupCommit& group_commit() { return group_commit_; }
  DataNotifier& notifier() { return notifier_; }
  BrokerMetrics& metrics() { return metrics_; }  // thread-safe

 private:
  BrokerConfig config_;
  std::string cluster_id_;
  HostPort advertised_;
  Topics& topics_;
  GroupCommit& group_commit_;
  BrokerMetrics& metrics_;
  DataNotifier notifier_;
};

}  // namespace tern::broker
