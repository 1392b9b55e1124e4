// The record formats of MirrorMaker 2's internal topics, so that MM2's tooling
// (RemoteClusterUtils.translateOffsets, MirrorCheckpointConnector) reads what Tern writes:
//   offset-syncs  "mm2-offset-syncs.<target>.internal": key (topic, partition),
//                 value (upstream offset, downstream offset)
//   checkpoints   "<source>.checkpoints.internal": key (group, topic, partition),
//                 value (version 0, upstream offset, downstream offset, metadata)
//   heartbeats    "heartbeats": key (source alias, target alias), value (version 0, timestamp)
// Kafka protocol structs: big-endian integers, strings as int16 length + UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::mm2 {

std::string OffsetSyncsTopic(std::string_view target_alias);
std::string CheckpointsTopic(std::string_view source_alias);
inline constexpr std::string_view kHeartbeatsTopic = "heartbeats";

struct OffsetSync {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t upstream_offset = 0;
  std::int64_t downstream_offset = 0;
  friend bool operator==(const OffsetSync&, const OffsetSync&) = default;
};

struct Checkpoint {
  std::string group;
  std::string topic;  // the topic's name on the target
  std::int32_t partition = 0;
  std::int64_t upstream_offset = 0;
  std::int64_t downstream_offset = 0;
  std::string metadata;
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

struct Heartbeat {
  std::string source_alias;
  std::string target_alias;
  std::int64_t timestamp_ms = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

struct KeyValue {
  std::string key;
  std::string value;
};

KeyValue Encode(const OffsetSync& sync);
KeyValue Encode(const Checkpoint& checkpoint);
KeyValue Encode(const Heartbeat& heartbeat);

// Decoders refuse short input, a negative string length, an unknown value version and bytes
// left over, with an error saying which.
Result<OffsetSync> DecodeOffsetSync(std::string_view key, std::string_view value);
Result<Checkpoint> DecodeCheckpoint(std::string_view key, std::string_view value);
Result<Heartbeat> DecodeHeartbeat(std::string_view key, std::string_view value);

}  // namespace tern::mm2
