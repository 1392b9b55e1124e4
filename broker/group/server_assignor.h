// The server-side assignors of the consumer rebalance protocol (KIP-848): given the members'
// subscriptions and the subscribed topics' partition counts, the target assignment of every
// member. Pure functions.
//   - "uniform" (the default, Kafka's first in group.consumer.assignors): every partition of a
//     subscribed topic goes to one of the members subscribed to it, as evenly as the
//     subscriptions allow (no member holds two more than another that could take one of its
//     partitions), keeping each member's partitions of the previous target where that stays
//     even, so a rebalance moves as few partitions as it can;
//   - "range": topic by topic, the subscribed members in member-id order take consecutive
//     ranges of its partitions, the first (partitions % members) one more, so members
//     subscribed to the same co-partitioned topics get the same partition numbers.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/wire.h"

namespace tern::broker::group {

// Partitions by topic id.
using TopicPartitions = std::map<kafka::Uuid, std::set<std::int32_t>>;

struct AssignorMember {
  std::set<kafka::Uuid> topics;  // subscribed topics that exist
  TopicPartitions current;       // its previous target, kept where it can be
};

inline constexpr std::string_view kUniformAssignor = "uniform";
inline constexpr std::string_view kRangeAssignor = "range";

// Whether `name` is an assignor this broker has.
bool KnownAssignor(std::string_view name);

// The target assignment by member id: every member of `members` has an entry (maybe empty).
// `partitions` gives each subscribed topic's partition count.
std::map<std::string, TopicPartitions> Assign(
    std::string_view assignor, const std::map<std::string, AssignorMember>& members,
    const std::map<kafka::Uuid, std::int32_t>& partitions);

// How many partitions `tp` holds.
std::size_t CountPartitions(const TopicPartitions& tp);

}  // namespace tern::broker::group
