// The replicator's engine: three threads around one checkpoint store.
//   discovery   every discovery.interval_ms: source topics → target topics (TopicSync)
//   copy        the data path (CopyLoop), restarted with backoff after any error
//   groups      checkpoints, group offsets and heartbeats (GroupSync)
//   probe       every 2 s a metadata request to each cluster: reachability for health
// Every thread retries with exponential backoff (up to 30 s) when a cluster is unreachable, so
// the replicator resumes by itself once both clusters are back.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "checkpoint/checkpoint_store.h"
#include "config/replicator_config.h"
#include "replicator/copy_loop.h"
#include "replicator/naming.h"
#include "replicator/paused_topics.h"
#include "replicator/stats.h"

namespace tern::replicator {

class Engine {
 public:
  Engine(const ReplicatorConfig& config, std::unique_ptr<CheckpointStore> store);
  ~Engine();

  // Starts the threads.
  void Start();
  // Asks every thread to finish (the copy loop commits what it copied) and joins them.
  void Stop();

  EngineStats& stats() { return stats_; }
  CheckpointStore& store() { return *store_; }
  const TopicSet& topics() const { return topics_; }
  PausedTopics& paused() { return paused_; }
  const ReplicatorConfig& config() const { return config_; }
  const TopicNaming& naming() const { return naming_; }

 private:
  void DiscoveryThread();
  void CopyThread();
  void GroupsThread();
  void ProbeThread();
  // Sleeps up to `ms` unless stopping; false when stopping.
  bool Sleep(std::int64_t ms);

  const ReplicatorConfig& config_;
  std::unique_ptr<CheckpointStore> store_;
  TopicNaming naming_;
  TopicSet topics_;
  PausedTopics paused_;
  EngineStats stats_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace tern::replicator
