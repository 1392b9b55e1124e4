// Which source topics are replicated and what they are called on the target.
#pragma once

#include <string>

#include "config/replicator_config.h"

namespace tern::replicator {

// The header that marks where a copied record came from (its value is the source alias).
inline constexpr const char* kOriginHeader = "tern.origin";

class TopicNaming {
 public:
  TopicNaming(NamingPolicy policy, std::string source_alias, std::string target_alias)
      : policy_(policy), source_(std::move(source_alias)), target_(std::move(target_alias)) {}

  std::string TargetTopic(const std::string& source_topic) const {
    return policy_ == NamingPolicy::kPrefix ? source_ + "." + source_topic : source_topic;
  }

  // Topics that are never replicated, whatever the include patterns say: Kafka's internal
  // topics ("__*"), MirrorMaker 2's and Tern's own ("*.internal", "*-internal", "heartbeats",
  // "*.heartbeats", "*.replica"), and with prefix naming a topic that came from the target
  // ("<target>.*"), which would otherwise travel back in two-way replication.
  bool IsExcluded(const std::string& topic) const;

 private:
  NamingPolicy policy_;
  std::string source_;
  std::string target_;
};

// Topic configs that are not copied to the target: they describe the cluster, not the data
// (replication safety, timestamp policy, throttling), as MirrorMaker 2 also leaves them.
bool IsCopiedTopicConfig(const std::string& name);

}  // namespace tern::replicator
