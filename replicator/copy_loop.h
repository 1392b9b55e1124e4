// The data path: one source consumer (assigned the partitions discovery found, never in a
// consumer group) and one target producer. Each source partition goes to the same partition
// of its target topic, with key, value, headers and timestamp preserved.
//
// Exactly-once mode: the producer is transactional. A transaction carries the copied records,
// the offset-syncs records of the new offset-map runs, and the source progress as committed
// offsets of the group <transactional_id> on the target — so the target alone says how far
// replication got, atomically with the data. It commits once it holds everything the source
// had (caught up), or after commit_interval_ms while copying is behind. The RocksDB store is
// written after the transaction commits and reconciled with the target on start.
//
// At-least-once mode: the producer is idempotent; progress (the contiguously delivered
// position) is committed to the store and the same target group after delivery.
//
// Any error that leaves the pipeline in doubt (an aborted transaction, a failed delivery, a
// fenced producer) ends Run(); the engine starts it again from the committed progress.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_store.h"
#include "config/replicator_config.h"
#include "replicator/kafka_client.h"
#include "replicator/naming.h"
#include "replicator/paused_topics.h"
#include "replicator/stats.h"
#include "replicator/topic_sync.h"

namespace tern::replicator {

// The topics discovery wants replicated; discovery publishes, the copy loop picks it up at a
// commit boundary.
class TopicSet {
 public:
  void Publish(std::vector<ReplicatedTopic> topics);
  // The current set and its version (0 before the first Publish).
  std::pair<std::shared_ptr<const std::vector<ReplicatedTopic>>, std::uint64_t> Current() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<ReplicatedTopic>> topics_ =
      std::make_shared<std::vector<ReplicatedTopic>>();
  std::uint64_t version_ = 0;
};

class CopyLoop {
 public:
  CopyLoop(const ReplicatorConfig& config, const TopicNaming& naming, CheckpointStore& store,
           const TopicSet& topics, const PausedTopics& paused, EngineStats& stats);
  ~CopyLoop();

  // Copies until `stop` is set (returns OK) or an error needs a restart (returns it).
  Status Run(const std::atomic<bool>& stop);

  // The group on the target that holds committed source progress.
  const std::string& progress_group() const { return config_.transactional_id; }

 private:
  struct Flow;
  struct Impl;
  const ReplicatorConfig& config_;
  const TopicNaming& naming_;
  CheckpointStore& store_;
  const TopicSet& topics_;
  const PausedTopics& paused_;
  EngineStats& stats_;
};

}  // namespace tern::replicator
