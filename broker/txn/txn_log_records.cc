#include "broker/txn/txn_log_records.h"

#include <array>
#include <utility>
#include <vector>

#include "broker/group/offsets_records.h"
#include "kafka/wire.h"

namespace tern::broker::txn {
namespace {

constexpr std::array<std::string_view, 8> kStateNames = {
    "Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
    "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence"};

Status Short(std::string_view what) {
  return Status::InvalidArgument(std::string("__transaction_state ") + std::string(what) +
                                 " is truncated or malformed");
}

// An array length: int32 (v0) or unsigned varint + 1 (compact, v1); -1 is null.
bool ReadLength(kafka::Reader& r, bool compact, std::int32_t* out) {
  if (!compact) return r.ReadInt32(out);
  std::uint32_t n = 0;
  if (!r.ReadUnsignedVarint(&n)) return false;
  *out = static_cast<std::int32_t>(n) - 1;
  return true;
}

}  // namespace

std::string_view TxnStateName(TxnState state) {
  const auto i = static_cast<std::size_t>(state);
  return i < kStateNames.size() ? kStateNames[i] : "Unknown";
}

bool TxnStateFromName(std::string_view name, TxnState* out) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) {
      *out = static_cast<TxnState>(i);
      return true;
    }
  }
  return false;
}

std::string EncodeTxnLogKey(std::string_view transactional_id) {
  kafka::Writer w;
  w.WriteInt16(0);
  w.WriteString(transactional_id, false);
  return w.TakeBuffer();
}

Result<std::string> DecodeTxnLogKey(std::string_view key) {
  kafka::Reader r(key);
  std::int16_t version = 0;
  if (!r.ReadInt16(&version)) return Short("key");
  if (version != 0) return Status::Unsupported("transaction log key version " +
                                               std::to_string(version));
  std::string id;
  if (!r.ReadString(&id, false)) return Short("key");
  return id;
}

std::string EncodeTxnLogValue(const TxnLogValue& v) {
  // Version 1 only when a tagged field must be written.
  const bool flexible = v.previous_producer_id >= 0 || v.next_producer_id >= 0 ||
                        v.client_transaction_version != 0 || v.next_producer_epoch >= 0;
  kafka::Writer w;
  w.WriteInt16(flexible ? 1 : 0);
  w.WriteInt64(v.producer_id);
  w.WriteInt16(v.producer_epoch);
  w.WriteInt32(v.timeout_ms);
  w.WriteInt8(static_cast<std::int8_t>(v.state));
  w.WriteArrayLength(v.partitions.size(), flexible);
  for (const auto& [topic, partitions] : v.partitions) {
    w.WriteString(topic, flexible);
    w.WriteArrayLength(partitions.size(), flexible);
    for (std::int32_t p : partitions) w.WriteInt32(p);
    if (flexible) w.WriteUnsignedVarint(0);
  }
  w.WriteInt64(v.last_update_ms);
  w.WriteInt64(v.start_ms);
  if (!flexible) return w.TakeBuffer();
  kafka::TaggedFieldsWriter tags;
  if (v.previous_producer_id >= 0) tags.Add(0).WriteInt64(v.previous_producer_id);
  if (v.next_producer_id >= 0) tags.Add(1).WriteInt64(v.next_producer_id);
  if (v.client_transaction_version != 0) tags.Add(2).WriteInt16(v.client_transaction_version);
  if (v.next_producer_epoch >= 0) tags.Add(3).WriteInt16(v.next_producer_epoch);
  tags.Finish(w, {});
  return w.TakeBuffer();
}

namespace {

// Version 1's tagged fields into `v`; unknown tags are skipped.
bool ReadTags(kafka::Reader& r, TxnLogValue* v) {
  return kafka::ReadTaggedFields(r, [v](std::uint32_t tag, std::string_view data) {
    kafka::Reader f(data);
    switch (tag) {
      case 0: return f.ReadInt64(&v->previous_producer_id);
      case 1: return f.ReadInt64(&v->next_producer_id);
      case 2: return f.ReadInt16(&v->client_transaction_version);
      case 3: return f.ReadInt16(&v->next_producer_epoch);
      default: return true;
    }
  });
}

}  // namespace

Result<TxnLogValue> DecodeTxnLogValue(std::string_view value) {
  kafka::Reader r(value);
  std::int16_t version = 0;
  if (!r.ReadInt16(&version)) return Short("value");
  if (version != 0 && version != 1) {
    return Status::Unsupported("transaction log value version " + std::to_string(version));
  }
  const bool flexible = version == 1;
  TxnLogValue v;
  std::int8_t state = 0;
  std::int32_t topics = 0;
  if (!r.ReadInt64(&v.producer_id) || !r.ReadInt16(&v.producer_epoch) ||
      !r.ReadInt32(&v.timeout_ms) || !r.ReadInt8(&state) || !ReadLength(r, flexible, &topics)) {
    return Short("value");
  }
  if (state < 0 || state > static_cast<std::int8_t>(TxnState::kPrepareEpochFence)) {
    return Status::InvalidArgument("transaction log value has state " + std::to_string(state));
  }
  v.state = static_cast<TxnState>(state);
  for (std::int32_t t = 0; t < topics; ++t) {
    std::string topic;
    std::int32_t count = 0;
    if (!r.ReadString(&topic, flexible) || !ReadLength(r, flexible, &count) || count < 0) {
      return Short("partitions");
    }
    auto& set = v.partitions[topic];
    for (std::int32_t i = 0; i < count; ++i) {
      std::int32_t p = 0;
      if (!r.ReadInt32(&p)) return Short("partitions");
      set.insert(p);
    }
    if (flexible && !kafka::SkipTaggedFields(r)) return Short("partitions");
  }
  if (!r.ReadInt64(&v.last_update_ms) || !r.ReadInt64(&v.start_ms)) return Short("value");
  if (flexible && !ReadTags(r, &v)) return Short("value");
  return v;
}

std::int32_t PartitionForTransactionalId(std::string_view transactional_id,
                                         std::int32_t partitions) {
  return group::PartitionForGroup(transactional_id, partitions);
}

}  // namespace tern::broker::txn
