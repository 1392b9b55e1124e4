// Discovery: finds the source topics to replicate, creates them on the target with the same
// partition count and the source's topic configs, follows partition additions and config
// changes, and creates the replicator's own topics (MirrorMaker 2's offset-syncs, checkpoints
// and heartbeats).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/replicator_config.h"
#include "replicator/kafka_client.h"
#include "replicator/naming.h"

namespace tern::replicator {

struct ReplicatedTopic {
  std::string source;
  std::string target;
  // Partitions replicated: the source's count once the target has at least as many.
  std::int32_t partitions = 0;
  friend bool operator==(const ReplicatedTopic&, const ReplicatedTopic&) = default;
};

// Creates a topic if it does not exist; an existing topic is fine.
Status EnsureTopic(rd_kafka_t* admin, const std::string& topic, std::int32_t partitions,
                   std::int32_t replication_factor, const TopicConfigs& configs,
                   std::chrono::milliseconds timeout);

class TopicSync {
 public:
  TopicSync(const ReplicatorConfig& config, const TopicNaming& naming, rd_kafka_t* source_admin,
            rd_kafka_t* target_admin);

  // One round. Returns the topics ready to replicate; errors of single topics are logged and
  // leave that topic out of this round (it is retried next round).
  Result<std::vector<ReplicatedTopic>> Run();

  // Whether `topic` on the source passes the filters and is not internal.
  bool Wanted(const std::string& topic) const;

 private:
  Status SyncConfigs(const std::vector<ReplicatedTopic>& topics);

  const ReplicatorConfig& config_;
  const TopicNaming& naming_;
  rd_kafka_t* source_;
  rd_kafka_t* target_;
  CompiledNameFilter filter_;
  // Configs last applied to each target topic (copied keys only).
  std::map<std::string, TopicConfigs> applied_;
};

}  // namespace tern::replicator
