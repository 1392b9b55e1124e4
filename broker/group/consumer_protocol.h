// The embedded consumer protocol of classic groups: what a Java or librdkafka consumer puts in
// JoinGroup's protocol metadata (its subscription) and what the leader hands out in SyncGroup
// (each member's assignment). Both are int16-versioned, non-flexible structures:
//   Subscription v0: topics [string], user data (nullable bytes);
//                v1: + owned partitions [topic string, partitions [int32]];
//                v2: + generation int32 (-1 when not known);
//                v3: + rack id (nullable string).
//   Assignment v0-v3: partitions [topic string, partitions [int32]], user data (nullable bytes).
// A later version may add fields at the end; they are ignored, as clients do.
//
// The group coordinator needs them where the broker, not a leader, assigns: when a classic
// group moves to the consumer rebalance protocol (KIP-848) and classic members stay in it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tern::broker::group {

// Partitions by topic name.
using NamedPartitions = std::map<std::string, std::set<std::int32_t>>;

struct ConsumerSubscription {
  std::int16_t version = 0;
  std::vector<std::string> topics;
  std::optional<std::string> user_data;
  NamedPartitions owned;  // v1+
  std::int32_t generation = -1;  // v2+
  std::optional<std::string> rack_id;  // v3+
};

struct ConsumerAssignment {
  std::int16_t version = 0;
  NamedPartitions partitions;
  std::optional<std::string> user_data;
};

// Nullopt when the bytes are not a subscription (or an assignment) of a known shape.
std::optional<ConsumerSubscription> DecodeConsumerSubscription(std::string_view bytes);
std::optional<ConsumerAssignment> DecodeConsumerAssignment(std::string_view bytes);

// Topic names as a member's subscription keeps them: sorted, each once.
std::vector<std::string> SortedTopicNames(std::vector<std::string> names);

// The assignment version to answer a member whose subscription is `subscription`: the
// subscription's own version, within 0..3, as Kafka answers.
std::int16_t AssignmentVersionFor(std::string_view subscription);

// An assignment of `version` (0 to 3; every one has the same fields), no user data.
std::string EncodeConsumerAssignment(const NamedPartitions& partitions, std::int16_t version = 0);

}  // namespace tern::broker::group
