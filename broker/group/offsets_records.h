// The records of the __consumer_offsets topic in Kafka's own formats, so that tools reading the
// topic (kafka-console-consumer's OffsetsMessageFormatter, lag monitors) decode them, and the
// partition of the topic a group's records go to.
//
// Every key and value starts with a big-endian int16 version; strings are an int16 length and
// UTF-8 bytes (flexible value version 4: an unsigned varint length + 1). Key versions:
//   0, 1  OffsetCommitKey:   group, topic, partition int32 (the same layout; Kafka writes 1)
//   2     GroupMetadataKey:  group
//   3+    records of consumer-protocol (KIP-848) groups (decoded as kOther here; see
//         consumer_group_records.h)
// OffsetCommitValue versions:
//   0, 2  offset int64, metadata, commitTimestamp int64
//   1     offset, metadata, commitTimestamp, expireTimestamp int64
//   3     offset, leaderEpoch int32, metadata, commitTimestamp
//   4     as 3 with a compact metadata string and tagged fields (tag 0: topic id)
// A record with a null value (a tombstone) deletes its key.
//
// This broker writes key version 1 and value version 3, or version 1 when the commit carries
// its own expiry (OffsetCommit v2-4 retention_time_ms), as Kafka does. Kafka 4.x itself writes
// value version 4; version 3 carries the same fields and is the newest version that third-party
// readers of the topic (Burrow and others) decode. Every version is read back.
//
// Pure functions; any thread may call them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::broker::group {

inline constexpr const char* kOffsetsTopic = "__consumer_offsets";

// One committed offset as a value record holds it.
struct OffsetCommitValue {
  std::int64_t offset = -1;
  std::int32_t leader_epoch = -1;  // -1: none
  std::string metadata;
  std::int64_t commit_timestamp_ms = 0;
  // Set only by commits that ask for their own retention (value version 1); -1 otherwise.
  std::int64_t expire_timestamp_ms = -1;

  friend bool operator==(const OffsetCommitValue&, const OffsetCommitValue&) = default;
};

struct OffsetsRecordKey {
  enum class Type { kOffsetCommit, kGroupMetadata, kOther };
  Type type = Type::kOther;
  std::int16_t version = 0;
  std::string group;      // kOffsetCommit, kGroupMetadata
  std::string topic;      // kOffsetCommit
  std::int32_t partition = 0;  // kOffsetCommit
};

std::string EncodeOffsetCommitKey(std::string_view group, std::string_view topic,
                                  std::int32_t partition);
// Version 1 when the value has an expire timestamp, otherwise 3.
std::string EncodeOffsetCommitValue(const OffsetCommitValue& value);
// Version 4 (flexible); what Kafka 4.x writes. Not used by the broker; kept for tests and for
// a later switch.
std::string EncodeOffsetCommitValueV4(const OffsetCommitValue& value);
std::string EncodeGroupMetadataKey(std::string_view group);

// InvalidArgument when the bytes are short or a string is malformed. Trailing bytes after the
// fields of a known version are accepted (newer writers may add fields).
Result<OffsetsRecordKey> DecodeOffsetsRecordKey(std::string_view key);
// Versions 0-4; Unsupported for a newer version.
Result<OffsetCommitValue> DecodeOffsetCommitValue(std::string_view value);

// Java's String.hashCode of the UTF-16 form of `utf8` (s[0]*31^(n-1) + ... + s[n-1] in int32
// arithmetic). A malformed UTF-8 sequence counts as U+FFFD per byte.
std::int32_t JavaStringHashCode(std::string_view utf8);
// The number of UTF-16 code units of `utf8` (Java's String.length), by the same decoding.
std::size_t JavaStringLength(std::string_view utf8);
// Kafka's partition of a group in __consumer_offsets: abs(hashCode) % partitions, where abs of
// INT32_MIN is 0. REQUIRES: partitions > 0.
std::int32_t PartitionForGroup(std::string_view group, std::int32_t partitions);

}  // namespace tern::broker::group
