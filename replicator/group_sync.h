// Consumer-group offsets, checkpoints and heartbeats, in MirrorMaker 2's formats:
// - every groups_sync.interval_ms, for each source group matching the filters, its committed
//   offsets on replicated topics are translated with the offset map and written to
//   "<source>.checkpoints.internal" on the target (when they changed), and committed to the
//   same group on the target while that group has no active members there — never moving an
//   offset backwards;
// - every heartbeats.interval_ms a heartbeat record goes to "heartbeats" on the target.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/checkpoint_store.h"
#include "config/replicator_config.h"
#include "replicator/kafka_client.h"
#include "replicator/stats.h"
#include "replicator/topic_sync.h"

namespace tern::replicator {

// Creates the replicator's own topics (offset-syncs, checkpoints, heartbeats): one partition,
// compacted.
Status EnsureInternalTopics(const ReplicatorConfig& config, rd_kafka_t* source_admin,
                            rd_kafka_t* target_admin);

class GroupSync {
 public:
  GroupSync(const ReplicatorConfig& config, CheckpointStore& store, EngineStats& stats);
  ~GroupSync();

  Status Open();
  Status SyncOnce(const std::vector<ReplicatedTopic>& topics);
  Status Heartbeat();

  // Whether a source group is synced (filters, and never the replicator's own groups).
  bool Wanted(const std::string& group) const;

 private:
  struct Translated {
    std::string target_topic;
    std::int32_t partition;
    std::int64_t upstream;
    std::int64_t downstream;
  };
  Result<std::vector<std::string>> ListGroups();
  Result<std::map<std::pair<std::string, std::int32_t>, std::int64_t>> GroupOffsets(
      rd_kafka_t* rk, const std::string& group);
  // Commits the translated offsets to the group on the target unless it has members there;
  // true when the target's offsets are the translated ones (or ahead), false while active.
  Result<bool> CommitOnTarget(const std::string& group, const std::vector<Translated>& offsets);
  Status Produce(const std::string& topic, const std::string& key, const std::string& value);

  const ReplicatorConfig& config_;
  CheckpointStore& store_;
  EngineStats& stats_;
  CompiledNameFilter filter_;
  KafkaHandle source_admin_;
  KafkaHandle target_admin_;
  KafkaHandle producer_;
  std::string checkpoints_topic_;
  // Last checkpoint written per (group, target topic, partition): (upstream, downstream).
  std::map<std::tuple<std::string, std::string, std::int32_t>,
           std::pair<std::int64_t, std::int64_t>>
      written_;
};

}  // namespace tern::replicator
