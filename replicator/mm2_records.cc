#include "replicator/mm2_records.h"

#include "kafka/wire.h"

namespace tern::mm2 {
namespace {

constexpr std::int16_t kValueVersion = 0;

// Checks that a reader consumed its input exactly; names the record kind in the error.
Status Finish(const kafka::Reader& r, std::string_view what) {
  if (!r.ok()) return Status::InvalidArgument(std::string(what) + ": " + r.status().message());
  if (r.remaining() != 0) {
    return Status::InvalidArgument(std::string(what) + ": " + std::to_string(r.remaining()) +
                                   " bytes after the end");
  }
  return Status::Ok();
}

Status ReadVersion(kafka::Reader& r, std::string_view what) {
  std::int16_t version = -1;
  if (!r.ReadInt16(&version)) return Finish(r, what);
  if (version != kValueVersion) {
    return Status::InvalidArgument(std::string(what) + ": unknown version " +
                                   std::to_string(version));
  }
  return Status::Ok();
}

}  // namespace

std::string OffsetSyncsTopic(std::string_view target_alias) {
  return "mm2-offset-syncs." + std::string(target_alias) + ".internal";
}

std::string CheckpointsTopic(std::string_view source_alias) {
  return std::string(source_alias) + ".checkpoints.internal";
}

KeyValue Encode(const OffsetSync& sync) {
  kafka::Writer key, value;
  key.WriteString(sync.topic, false);
  key.WriteInt32(sync.partition);
  value.WriteInt64(sync.upstream_offset);
  value.WriteInt64(sync.downstream_offset);
  return {key.TakeBuffer(), value.TakeBuffer()};
}

KeyValue Encode(const Checkpoint& checkpoint) {
  kafka::Writer key, value;
  key.WriteString(checkpoint.group, false);
  key.WriteString(checkpoint.topic, false);
  key.WriteInt32(checkpoint.partition);
  value.WriteInt16(kValueVersion);
  value.WriteInt64(checkpoint.upstream_offset);
  value.WriteInt64(checkpoint.downstream_offset);
  value.WriteString(checkpoint.metadata, false);
  return {key.TakeBuffer(), value.TakeBuffer()};
}

KeyValue Encode(const Heartbeat& heartbeat) {
  kafka::Writer key, value;
  key.WriteString(heartbeat.source_alias, false);
  key.WriteString(heartbeat.target_alias, false);
  value.WriteInt16(kValueVersion);
  value.WriteInt64(heartbeat.timestamp_ms);
  return {key.TakeBuffer(), value.TakeBuffer()};
}

Result<OffsetSync> DecodeOffsetSync(std::string_view key, std::string_view value) {
  OffsetSync s;
  kafka::Reader k(key), v(value);
  k.ReadString(&s.topic, false);
  k.ReadInt32(&s.partition);
  if (auto st = Finish(k, "offset-sync key"); !st.ok()) return st;
  v.ReadInt64(&s.upstream_offset);
  v.ReadInt64(&s.downstream_offset);
  if (auto st = Finish(v, "offset-sync value"); !st.ok()) return st;
  return s;
}

Result<Checkpoint> DecodeCheckpoint(std::string_view key, std::string_view value) {
  Checkpoint c;
  kafka::Reader k(key), v(value);
  k.ReadString(&c.group, false);
  k.ReadString(&c.topic, false);
  k.ReadInt32(&c.partition);
  if (auto st = Finish(k, "checkpoint key"); !st.ok()) return st;
  if (auto st = ReadVersion(v, "checkpoint value"); !st.ok()) return st;
  v.ReadInt64(&c.upstream_offset);
  v.ReadInt64(&c.downstream_offset);
  v.ReadString(&c.metadata, false);
  if (auto st = Finish(v, "checkpoint value"); !st.ok()) return st;
  return c;
}

Result<Heartbeat> DecodeHeartbeat(std::string_view key, std::string_view value) {
  Heartbeat h;
  kafka::Reader k(key), v(value);
  k.ReadString(&h.source_alias, false);
  k.ReadString(&h.target_alias, false);
  if (auto st = Finish(k, "heartbeat key"); !st.ok()) return st;
  if (auto st = ReadVersion(v, "heartbeat value"); !st.ok()) return st;
  v.ReadInt64(&h.timestamp_ms);
  if (auto st = Finish(v, "heartbeat value"); !st.ok()) return st;
  return h;
}

}  // namespace tern::mm2
