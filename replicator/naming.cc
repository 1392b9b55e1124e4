#include "replicator/naming.h"

#include <array>
#include <string_view>

namespace tern::replicator {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool TopicNaming::IsExcluded(const std::string& topic) const {
  if (StartsWith(topic, "__")) return true;
  if (EndsWith(topic, ".internal") || EndsWith(topic, "-internal")) return true;
  if (topic == "heartbeats" || EndsWith(topic, ".heartbeats")) return true;
  if (EndsWith(topic, ".replica")) return true;
  if (policy_ == NamingPolicy::kPrefix && StartsWith(topic, target_ + ".")) return true;
  return false;
}

bool IsCopiedTopicConfig(const std::string& name) {
  static constexpr std::array<std::string_view, 5> kExact = {
      "min.insync.replicas", "unclean.leader.election.enable",
      "follower.replication.throttled.replicas", "leader.replication.throttled.replicas",
      "message.downconversion.enable"};
  for (auto n : kExact) {
    if (name == n) return false;
  }
  if (StartsWith(name, "message.timestamp.")) return false;
  if (StartsWith(name, "confluent.")) return false;
  return true;
}

}  // namespace tern::replicator
