// BrokerContext: what every handler reaches — the broker's identity and configuration, its
// topics and logs, the group commit, the producer id allocator, and the notifier that wakes
// waiting fetches. Owned by main; lives as long as the server. Network thread only, except
// where a member says otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "broker/cluster/topics.h"
#include "broker/data_notifier.h"
#include "broker/group_commit.h"
#include "broker/metrics.h"
#include "broker/txn/producer_ids.h"
#include "config/broker_config.h"

namespace tern::broker {

namespace group {
class GroupCoordinator;
}
namespace txn {
class TxnCoordinator;
}

class BrokerContext {
 public:
  BrokerContext(BrokerConfig config, std::string cluster_id, HostPort advertised, Topics& topics,
                GroupCommit& group_commit, txn::ProducerIdAllocator& producer_ids,
                BrokerMetrics& metrics)
      : config_(std::move(config)),
        cluster_id_(std::move(cluster_id)),
        advertised_(std::move(advertised)),
        topics_(topics),
        group_commit_(group_commit),
        producer_ids_(producer_ids),
        metrics_(metrics) {}

  const BrokerConfig& config() const { return config_; }
  std::int32_t node_id() const { return config_.node_id; }
  const std::string& cluster_id() const { return cluster_id_; }
  const HostPort& advertised() const { return advertised_; }
  Topics& topics() { return topics_; }
  GroupCommit& group_commit() { return group_commit_; }
  txn::ProducerIdAllocator& producer_ids() { return producer_ids_; }
  DataNotifier& notifier() { return notifier_; }
  // The group coordinator (committed offsets); main sets it before the server starts.
  group::GroupCoordinator& groups() { return *groups_; }
  void set_groups(group::GroupCoordinator& groups) { groups_ = &groups; }
  // The transaction coordinator; main sets it before the server starts.
  txn::TxnCoordinator& txns() { return *txns_; }
  void set_txns(txn::TxnCoordinator& txns) { txns_ = &txns; }
  BrokerMetrics& metrics() { return metrics_; }  // thread-safe

 private:
  BrokerConfig config_;
  std::string cluster_id_;
  HostPort advertised_;
  Topics& topics_;
  GroupCommit& group_commit_;
  txn::ProducerIdAllocator& producer_ids_;
  BrokerMetrics& metrics_;
  DataNotifier notifier_;
  group::GroupCoordinator* groups_ = nullptr;
  txn::TxnCoordinator* txns_ = nullptr;
};

}  // namespace tern::broker
