#include "broker/txn/producer_state.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "kafka/wire.h"

namespace tern::broker::txn {
namespace {

// Snapshot layout, big-endian:
//   magic "TPST" | version u16 | crc u32 (CRC-32C of everything after it) |
//   offset i64 | producer count i32 | producers in ascending id order:
//     producer id i64 | epoch i16 | last append ms i64 |
//     [v2: open transaction's first offset i64 | coordinator epoch i32] |
//     batch count i8 | batches, oldest first:
//       first sequence i32 | last sequence i32 | first offset i64 | last offset i64 |
//       max timestamp i64
//   [v2: aborted count i32 | aborted transactions by marker offset:
//        producer id i64 | first offset i64 | marker offset i64]
// Version 1 (before transactions) is still read.
constexpr std::string_view kSnapshotMagic = "TPST";
constexpr std::uint16_t kSnapshotVersion = 2;
constexpr std::size_t kCrcEnd = 4 + 2 + 4;

Status Bad(std::string_view what) {
  return Status::Corruption(fmt::format("producer state snapshot: {}", what));
}

bool ReadBatch(kafka::Reader& r, BatchMetadata* b) {
  return r.ReadInt32(&b->first_sequence) && r.ReadInt32(&b->last_sequence) &&
         r.ReadInt64(&b->first_offset) && r.ReadInt64(&b->last_offset) &&
         r.ReadInt64(&b->max_timestamp);
}

}  // namespace

std::int32_t IncrementSequence(std::int32_t sequence, std::int32_t delta) {
  constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
  if (sequence > kMax - delta) return delta - (kMax - sequence) - 1;
  return sequence + delta;
}

bool InSequence(std::int32_t last, std::int32_t next) {
  return std::int64_t{next} == std::int64_t{last} + 1 ||
         (next == 0 && last == std::numeric_limits<std::int32_t>::max());
}

BatchMetadata MetadataOf(const kafka::RecordBatchHeader& header) {
  return BatchMetadata{header.base_sequence,
                       IncrementSequence(header.base_sequence, header.last_offset_delta),
                       header.base_offset, header.last_offset(), header.max_timestamp};
}

void ProducerEntry::AddBatch(std::int16_t batch_epoch, const BatchMetadata& batch) {
  if (batch_epoch != epoch) {
    epoch = batch_epoch;
    batches.clear();
  }
  if (batches.size() == kBatchesPerProducer) batches.erase(batches.begin());
  batches.push_back(batch);
}

std::optional<BatchMetadata> ProducerEntry::FindBatch(std::int16_t batch_epoch,
                                                      std::int32_t first_sequence,
                                                      std::int32_t last_sequence) const {
  if (batch_epoch != epoch) return std::nullopt;
  for (const BatchMetadata& b : batches) {
    if (b.first_sequence == first_sequence && b.last_sequence == last_sequence) return b;
  }
  return std::nullopt;
}

AppendCheck ProducerStateTable::Check(const std::vector<kafka::RecordBatchHeader>& headers,
                                      AppendOrigin origin) const {
  AppendCheck check;
  auto refuse = [&](kafka::ErrorCode error, std::string message) {
    check.outcome = AppendCheck::Outcome::kRefused;
    check.error = error;
    check.message = std::move(message);
    check.updated.clear();
    return check;
  };
  const bool client = origin == AppendOrigin::kClient;
  for (const kafka::RecordBatchHeader& h : headers) {
    // Control batches (markers) carry no sequence; the caller applies them (ApplyMarker).
    if (h.producer_id < 0 || h.is_control()) continue;
    const BatchMetadata batch = MetadataOf(h);
    const ProducerEntry* current = Find(h.producer_id);
    if (current != nullptr && client) {
      if (auto original = current->FindBatch(h.producer_epoch, batch.first_sequence,
                                             batch.last_sequence)) {
        check.outcome = AppendCheck::Outcome::kDuplicate;
        check.duplicate = *original;
        check.updated.clear();
        return check;
      }
    }
    auto [it, inserted] = check.updated.try_emplace(h.producer_id);
    ProducerEntry& entry = it->second;
    if (inserted && current != nullptr) entry = *current;
    if (h.producer_epoch < entry.epoch) {
      return refuse(kafka::ErrorCode::kInvalidProducerEpoch,
                    fmt::format("epoch {} of producer {} is older than its current epoch {}",
                                h.producer_epoch, h.producer_id, entry.epoch));
    }
    // The sequence rules are those of Kafka 4: a producer the partition does not know (or no
    // longer knows) may start anywhere; a known producer's new epoch starts at 0; otherwise a
    // batch continues where the last one ended.
    const bool known = current != nullptr && current->epoch != kNoProducerEpoch;
    if (!client) {
      // The broker's own writes for the producer: no sequence to check.
    } else if (h.producer_epoch != entry.epoch) {
      if (batch.first_sequence != 0 && entry.epoch != kNoProducerEpoch) {
        return refuse(kafka::ErrorCode::kOutOfOrderSequenceNumber,
                      fmt::format("producer {} starts epoch {} at sequence {}, not 0",
                                  h.producer_id, h.producer_epoch, batch.first_sequence));
      }
    } else if (known && !InSequence(entry.last_sequence(), batch.first_sequence)) {
      return refuse(kafka::ErrorCode::kOutOfOrderSequenceNumber,
                    fmt::format("producer {} epoch {} sent sequence {} after {}", h.producer_id,
                                h.producer_epoch, batch.first_sequence, entry.last_sequence()));
    }
    if (h.is_transactional()) {
      if (entry.txn_first_offset < 0) entry.txn_first_offset = h.base_offset;
    } else if (entry.txn_first_offset >= 0) {
      return refuse(kafka::ErrorCode::kInvalidTxnState,
                    fmt::format("producer {} wrote a non-transactional batch while its "
                                "transaction from offset {} is open",
                                h.producer_id, entry.txn_first_offset));
    }
    if (client) {
      entry.AddBatch(h.producer_epoch, batch);
    } else if (h.producer_epoch != entry.epoch) {
      entry.epoch = h.producer_epoch;
      entry.batches.clear();
    }
  }
  return check;
}

void ProducerStateTable::SetOpen(std::int64_t producer_id, std::int64_t old_first,
                                 std::int64_t new_first) {
  if (old_first == new_first) return;
  if (old_first >= 0) open_.erase({old_first, producer_id});
  if (new_first >= 0) open_.insert({new_first, producer_id});
}

void ProducerStateTable::Apply(std::map<std::int64_t, ProducerEntry> updated,
                               std::int64_t now_ms) {
  for (auto& [id, entry] : updated) {
    entry.last_append_ms = now_ms;
    ProducerEntry& slot = producers_[id];
    SetOpen(id, slot.txn_first_offset, entry.txn_first_offset);
    slot = std::move(entry);
  }
}

kafka::ErrorCode ProducerStateTable::CheckMarker(std::int64_t producer_id,
                                                 std::int16_t epoch) const {
  const ProducerEntry* entry = Find(producer_id);
  if (entry != nullptr && epoch < entry->epoch) return kafka::ErrorCode::kInvalidProducerEpoch;
  return kafka::ErrorCode::kNone;
}

CompletedTxn ProducerStateTable::ApplyMarker(std::int64_t producer_id, std::int16_t epoch,
                                             std::int32_t coordinator_epoch, bool committed,
                                             std::int64_t marker_offset, std::int64_t now_ms) {
  ProducerEntry& entry = producers_[producer_id];
  CompletedTxn done{producer_id, entry.txn_first_offset, marker_offset, committed};
  if (entry.txn_first_offset >= 0 && !committed) {
    aborted_.push_back(AbortedTxn{producer_id, entry.txn_first_offset, marker_offset});
  }
  SetOpen(producer_id, entry.txn_first_offset, -1);
  entry.txn_first_offset = -1;
  if (epoch != entry.epoch) {
    entry.epoch = epoch;
    entry.batches.clear();
  }
  entry.coordinator_epoch = coordinator_epoch;
  entry.last_append_ms = now_ms;
  return done;
}

void ProducerStateTable::Replay(const kafka::RecordBatchHeader& header, std::int64_t now_ms,
                                std::optional<bool> committed_marker) {
  if (header.producer_id < 0) return;
  if (header.is_control()) {
    if (committed_marker.has_value()) {
      ApplyMarker(header.producer_id, header.producer_epoch,
                  producers_[header.producer_id].coordinator_epoch, *committed_marker,
                  header.base_offset, now_ms);
    }
    return;
  }
  ProducerEntry& entry = producers_[header.producer_id];
  if (header.base_sequence >= 0) {
    entry.AddBatch(header.producer_epoch, MetadataOf(header));
  } else if (header.producer_epoch != entry.epoch) {
    entry.epoch = header.producer_epoch;
    entry.batches.clear();
  }
  if (header.is_transactional() && entry.txn_first_offset < 0) {
    SetOpen(header.producer_id, -1, header.base_offset);
    entry.txn_first_offset = header.base_offset;
  }
  entry.last_append_ms = now_ms;
}

std::size_t ProducerStateTable::RemoveExpired(std::int64_t now_ms, std::int64_t expiration_ms) {
  return std::erase_if(producers_, [&](const auto& item) {
    return item.second.txn_first_offset < 0 &&
           now_ms - item.second.last_append_ms >= expiration_ms;
  });
}

std::optional<std::int64_t> ProducerStateTable::FirstUnstableOffset() const {
  if (open_.empty()) return std::nullopt;
  return open_.begin()->first;
}

std::vector<AbortedTxn> ProducerStateTable::AbortedBetween(std::int64_t from,
                                                           std::int64_t to) const {
  std::vector<AbortedTxn> out;
  auto it = std::lower_bound(aborted_.begin(), aborted_.end(), from,
                             [](const AbortedTxn& a, std::int64_t v) { return a.last_offset < v; });
  for (; it != aborted_.end(); ++it) {
    if (it->first_offset < to) out.push_back(*it);
  }
  return out;
}

void ProducerStateTable::RemoveAbortedBelow(std::int64_t offset) {
  auto it = std::lower_bound(
      aborted_.begin(), aborted_.end(), offset,
      [](const AbortedTxn& a, std::int64_t v) { return a.last_offset < v; });
  aborted_.erase(aborted_.begin(), it);
}

const ProducerEntry* ProducerStateTable::Find(std::int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

std::string ProducerStateTable::EncodeSnapshot(std::int64_t offset) const {
  std::vector<std::int64_t> ids;
  ids.reserve(producers_.size());
  for (const auto& [id, entry] : producers_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());

  kafka::Writer body;
  body.WriteInt64(offset);
  body.WriteInt32(static_cast<std::int32_t>(ids.size()));
  for (std::int64_t id : ids) {
    const ProducerEntry& entry = producers_.at(id);
    body.WriteInt64(id);
    body.WriteInt16(entry.epoch);
    body.WriteInt64(entry.last_append_ms);
    body.WriteInt64(entry.txn_first_offset);
    body.WriteInt32(entry.coordinator_epoch);
    body.WriteInt8(static_cast<std::int8_t>(entry.batches.size()));
    for (const BatchMetadata& b : entry.batches) {
      body.WriteInt32(b.first_sequence);
      body.WriteInt32(b.last_sequence);
      body.WriteInt64(b.first_offset);
      body.WriteInt64(b.last_offset);
      body.WriteInt64(b.max_timestamp);
    }
  }
  body.WriteInt32(static_cast<std::int32_t>(aborted_.size()));
  for (const AbortedTxn& a : aborted_) {
    body.WriteInt64(a.producer_id);
    body.WriteInt64(a.first_offset);
    body.WriteInt64(a.last_offset);
  }
  kafka::Writer out;
  out.WriteRaw(kSnapshotMagic);
  out.WriteUint16(kSnapshotVersion);
  out.WriteUint32(crc32c::Value(body.buffer()));
  out.WriteRaw(body.buffer());
  return out.TakeBuffer();
}

Result<ProducerStateTable::Snapshot> ProducerStateTable::DecodeSnapshot(std::string_view bytes) {
  if (bytes.size() < kCrcEnd || bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return Bad("not a snapshot (magic)");
  }
  kafka::Reader r(bytes.substr(kSnapshotMagic.size()));
  std::uint16_t version = 0;
  std::uint32_t crc = 0;
  if (!r.ReadUint16(&version) || !r.ReadUint32(&crc)) return Bad("truncated header");
  if (version != 1 && version != kSnapshotVersion) {
    return Bad(fmt::format("unknown version {}", version));
  }
  if (crc32c::Value(r.rest()) != crc) return Bad("CRC mismatch");

  Snapshot snapshot;
  std::int32_t count = 0;
  if (!r.ReadInt64(&snapshot.offset) || !r.ReadInt32(&count)) return Bad("truncated");
  if (snapshot.offset < 0 || count < 0) return Bad("negative offset or count");
  for (std::int32_t i = 0; i < count; ++i) {
    std::int64_t id = 0;
    ProducerEntry entry;
    std::int8_t batches = 0;
    if (!r.ReadInt64(&id) || !r.ReadInt16(&entry.epoch) || !r.ReadInt64(&entry.last_append_ms) ||
        (version >= 2 &&
         (!r.ReadInt64(&entry.txn_first_offset) || !r.ReadInt32(&entry.coordinator_epoch))) ||
        !r.ReadInt8(&batches)) {
      return Bad("truncated producer");
    }
    if (entry.txn_first_offset < -1 || entry.txn_first_offset >= snapshot.offset) {
      return Bad(fmt::format("producer {} has a transaction from offset {}", id,
                             entry.txn_first_offset));
    }
    if (id < 0 || batches < 0 || static_cast<std::size_t>(batches) > kBatchesPerProducer) {
      return Bad(fmt::format("producer {} with {} batches", id, batches));
    }
    std::int64_t previous_end = -1;
    for (std::int8_t b = 0; b < batches; ++b) {
      BatchMetadata batch;
      if (!ReadBatch(r, &batch)) return Bad("truncated batch");
      if (batch.first_offset <= previous_end || batch.last_offset < batch.first_offset ||
          batch.last_offset >= snapshot.offset) {
        return Bad(fmt::format("producer {} has a batch at offsets {}..{}", id,
                               batch.first_offset, batch.last_offset));
      }
      previous_end = batch.last_offset;
      entry.batches.push_back(batch);
    }
    const std::int64_t first = entry.txn_first_offset;
    if (!snapshot.table.producers_.emplace(id, std::move(entry)).second) {
      return Bad(fmt::format("producer {} listed twice", id));
    }
    snapshot.table.SetOpen(id, -1, first);
  }
  if (version >= 2) {
    std::int32_t aborted = 0;
    if (!r.ReadInt32(&aborted) || aborted < 0) return Bad("truncated aborted transactions");
    std::int64_t previous_marker = -1;
    for (std::int32_t i = 0; i < aborted; ++i) {
      AbortedTxn a;
      if (!r.ReadInt64(&a.producer_id) || !r.ReadInt64(&a.first_offset) ||
          !r.ReadInt64(&a.last_offset)) {
        return Bad("truncated aborted transaction");
      }
      if (a.first_offset < 0 || a.last_offset < a.first_offset ||
          a.last_offset <= previous_marker || a.last_offset >= snapshot.offset) {
        return Bad(fmt::format("aborted transaction at offsets {}..{}", a.first_offset,
                               a.last_offset));
      }
      previous_marker = a.last_offset;
      snapshot.table.aborted_.push_back(a);
    }
  }
  if (r.remaining() != 0) return Bad(fmt::format("{} bytes after the end", r.remaining()));
  return snapshot;
}

}  // namespace tern::broker::txn
