#include "broker/storage/batch_cleaner.h"

#include <limits>
#include <vector>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "kafka/compression.h"
#include "kafka/records.h"
#include "kafka/wire.h"

namespace tern::broker::storage {
namespace {

using kafka::RecordBatchHeader;

constexpr std::int16_t kDeleteHorizonAttribute = 0x40;

// A batch's records, decoded; `records` view into `bytes`, so a DecodedRecords is filled in
// place and never moved.
struct DecodedRecords {
  std::string bytes;
  std::vector<kafka::Record> records;
};

Status Decode(std::string_view batch, const RecordBatchHeader& header, DecodedRecords* out) {
  const std::string_view compressed = batch.substr(kafka::kRecordBatchHeaderSize);
  const auto codec = static_cast<kafka::Codec>(header.codec());
  if (codec == kafka::Codec::kNone) {
    out->bytes.assign(compressed);
  } else {
    Result<std::string> plain = kafka::Decompress(codec, compressed, kMaxCleanableRecordsBytes);
    if (!plain.ok()) return plain.status();
    out->bytes = std::move(plain.value());
  }
  Status decoded = kafka::DecodeRecords(out->bytes, header.records_count, &out->records);
  if (!decoded.ok()) {
    return Status::InvalidArgument(fmt::format("batch at offset {}: {}", header.base_offset,
                                               decoded.message()));
  }
  return Status::Ok();
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return a + b;
}

// A magic-2 batch with `header`'s fields (batchLength and CRC computed) around `records`.
Result<std::string> Encode(const RecordBatchHeader& header,
                           const std::vector<const kafka::Record*>& records) {
  kafka::Writer plain;
  for (const kafka::Record* record : records) kafka::EncodeRecord(*record, plain);
  Result<std::string> body =
      kafka::Compress(static_cast<kafka::Codec>(header.codec()), plain.buffer());
  if (!body.ok()) return body.status();

  kafka::Writer w;
  w.WriteInt64(header.base_offset);
  w.WriteInt32(0);  // batchLength, patched below
  w.WriteInt32(header.partition_leader_epoch);
  w.WriteInt8(kafka::kRecordBatchMagic);
  w.WriteUint32(0);  // CRC, patched below
  w.WriteInt16(header.attributes);
  w.WriteInt32(header.last_offset_delta);
  w.WriteInt64(header.base_timestamp);
  w.WriteInt64(header.max_timestamp);
  w.WriteInt64(header.producer_id);
  w.WriteInt16(header.producer_epoch);
  w.WriteInt32(header.base_sequence);
  w.WriteInt32(static_cast<std::int32_t>(records.size()));
  w.WriteRaw(body.value());
  w.PatchInt32(kafka::kBatchLengthPosition,
               static_cast<std::int32_t>(w.buffer().size() - kafka::kRecordBatchLogOverhead));
  std::string batch = w.TakeBuffer();
  const std::uint32_t crc =
      crc32c::Value(std::string_view(batch).substr(kafka::kAttributesPosition));
  for (std::size_t i = 0; i < 4; ++i) {
    batch[kafka::kCrcPosition + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
  }
  return batch;
}

}  // namespace

Status CollectLatestOffsets(std::string_view batch, const RecordBatchHeader& header,
                            LatestOffsets* latest) {
  if (header.is_control()) return Status::Ok();
  DecodedRecords decoded;
  if (Status s = Decode(batch, header, &decoded); !s.ok()) return s;
  for (const kafka::Record& record : decoded.records) {
    if (!record.key) continue;
    (*latest)[std::string(*record.key)] = header.base_offset + record.offset_delta;
  }
  return Status::Ok();
}

Result<CleanedBatch> CleanBatch(std::string_view batch, const RecordBatchHeader& header,
                                const LatestOffsets& latest, const CleaningRules& rules) {
  CleanedBatch result;
  if (header.is_control()) return result;
  if (rules.aborted && rules.aborted(header)) {
    result.outcome = CleanedBatch::Outcome::kRemoved;
    return result;
  }
  DecodedRecords decoded;
  if (Status s = Decode(batch, header, &decoded); !s.ok()) return s;

  const bool horizon_passed =
      header.has_delete_horizon() && rules.now_ms >= header.base_timestamp;
  std::vector<const kafka::Record*> kept;
  bool keeps_tombstone = false;
  for (const kafka::Record& record : decoded.records) {
    if (!record.key) continue;
    auto it = latest.find(std::string(*record.key));
    if (it != latest.end() && it->second != header.base_offset + record.offset_delta) continue;
    if (!record.value) {
      if (horizon_passed) continue;
      keeps_tombstone = true;
    }
    kept.push_back(&record);
  }

  const bool needs_horizon = keeps_tombstone && !header.has_delete_horizon();
  if (kept.size() == decoded.records.size() && !needs_horizon) return result;
  if (kept.empty()) {
    result.outcome = CleanedBatch::Outcome::kRemoved;
    return result;
  }

  RecordBatchHeader out = header;
  std::vector<kafka::Record> retimed;
  if (needs_horizon) {
    out.attributes = static_cast<std::int16_t>(out.attributes | kDeleteHorizonAttribute);
    out.base_timestamp = SaturatingAdd(rules.now_ms, rules.delete_retention_ms);
    retimed.reserve(kept.size());
    for (const kafka::Record* record : kept) {
      kafka::Record copy = *record;
      copy.timestamp_delta = header.base_timestamp + record->timestamp_delta - out.base_timestamp;
      retimed.push_back(std::move(copy));
    }
    for (std::size_t i = 0; i < kept.size(); ++i) kept[i] = &retimed[i];
  }
  Result<std::string> bytes = Encode(out, kept);
  if (!bytes.ok()) return bytes.status();
  result.outcome = CleanedBatch::Outcome::kRewritten;
  result.bytes = std::move(bytes.value());
  return result;
}

}  // namespace tern::broker::storage
