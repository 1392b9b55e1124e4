// The value of a classic group's GroupMetadata record in __consumer_offsets (key version 2,
// GroupMetadataKey, in offsets_records.h), in Kafka's own format: what a group looked like when
// its last rebalance completed — protocol type, generation, protocol, leader, the time of its
// last state change, and every member with its subscription and assignment. The broker rebuilds
// its groups from these records at start-up. A null value (a tombstone) deletes the group.
//
// An int16 version, then the fields big-endian; strings are an int16 length and UTF-8 bytes,
// bytes an int32 length (version 4, the first flexible one: unsigned varint length + 1, arrays
// likewise, and tagged fields at the end of the value and of each member):
//   protocolType string, generation int32, protocol string?, leader string?,
//   currentStateTimestamp int64 (v2+), members [
//     memberId string, groupInstanceId string? (v3+), clientId string, clientHost string,
//     rebalanceTimeout int32 (v1+), sessionTimeout int32, subscription bytes, assignment bytes]
// Kafka 4.x writes version 3, as this broker does; versions 0-4 are read.
//
// Pure functions; any thread may call them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::broker::group {

struct GroupMemberMetadata {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::int32_t rebalance_timeout_ms = -1;  // -1 in versions 0: the session timeout applies
  std::int32_t session_timeout_ms = 0;
  std::string subscription;  // the member's metadata for the group's protocol
  std::string assignment;

  friend bool operator==(const GroupMemberMetadata&, const GroupMemberMetadata&) = default;
};

struct GroupMetadataValue {
  std::string protocol_type;
  std::int32_t generation = 0;
  std::optional<std::string> protocol;  // null while the group is empty
  std::optional<std::string> leader;
  std::int64_t current_state_timestamp_ms = -1;  // -1: not known (versions 0-1)
  std::vector<GroupMemberMetadata> members;

  friend bool operator==(const GroupMetadataValue&, const GroupMetadataValue&) = default;
};

inline constexpr std::int16_t kGroupMetadataValueVersion = 3;  // what Kafka 4.x writes

// Version 3 unless another (0-4) is asked for; older versions drop the fields they lack.
std::string EncodeGroupMetadataValue(const GroupMetadataValue& value,
                                     std::int16_t version = kGroupMetadataValueVersion);

// InvalidArgument when the bytes are short or malformed; Unsupported for a version past 4.
// Trailing bytes after the fields of a non-flexible version are accepted.
Result<GroupMetadataValue> DecodeGroupMetadataValue(std::string_view value);

}  // namespace tern::broker::group
