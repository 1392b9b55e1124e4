#include "kafka/record_batch.h"

#include <string>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "kafka/wire.h"

namespace tern::kafka {
namespace {

template <typename T>
void StoreBigEndian(char* p, T value) {
  using U = std::make_unsigned_t<T>;
  U v = static_cast<U>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    p[sizeof(T) - 1 - i] = static_cast<char>(v & 0xff);
    v = static_cast<U>(v >> 8);
  }
}

}  // namespace

Result<RecordBatchHeader> ParseRecordBatchHeader(std::string_view bytes) {
  if (bytes.size() < kRecordBatchHeaderSize) {
    return Status::InvalidArgument(fmt::format(
        "record batch header needs {} bytes, got {}", kRecordBatchHeaderSize, bytes.size()));
  }
  Reader r(bytes.substr(0, kRecordBatchHeaderSize));
  RecordBatchHeader h;
  r.ReadInt64(&h.base_offset);
  r.ReadInt32(&h.batch_length);
  r.ReadInt32(&h.partition_leader_epoch);
  r.ReadInt8(&h.magic);
  r.ReadUint32(&h.crc);
  r.ReadInt16(&h.attributes);
  r.ReadInt32(&h.last_offset_delta);
  r.ReadInt64(&h.base_timestamp);
  r.ReadInt64(&h.max_timestamp);
  r.ReadInt64(&h.producer_id);
  r.ReadInt16(&h.producer_epoch);
  r.ReadInt32(&h.base_sequence);
  r.ReadInt32(&h.records_count);
  if (!r.ok()) return r.status();  // unreachable: the length was checked above
  return h;
}

Status ValidateRecordBatch(std::string_view batch, RecordBatchHeader* header) {
  Result<RecordBatchHeader> parsed = ParseRecordBatchHeader(batch);
  if (!parsed.ok()) return Status::Corruption(parsed.status().message());
  const RecordBatchHeader& h = parsed.value();
  if (h.magic != kRecordBatchMagic) {
    return Status::InvalidArgument(
        fmt::format("record batch magic is {}, only {} is supported", h.magic, kRecordBatchMagic));
  }
  if (h.batch_length < kMinBatchLength) {
    return Status::Corruption(fmt::format("record batch length {} is below the minimum {}",
                                          h.batch_length, kMinBatchLength));
  }
  if (h.size_in_bytes() != static_cast<std::int64_t>(batch.size())) {
    return Status::Corruption(fmt::format("record batch length {} says {} bytes, got {}",
                                          h.batch_length, h.size_in_bytes(), batch.size()));
  }
  const std::uint32_t crc = crc32c::Value(batch.substr(kAttributesPosition));
  if (crc != h.crc) {
    return Status::Corruption(
        fmt::format("record batch CRC-32C is {:#010x}, computed {:#010x}", h.crc, crc));
  }
  if (h.last_offset_delta < 0) {
    return Status::InvalidArgument(
        fmt::format("record batch lastOffsetDelta {} is negative", h.last_offset_delta));
  }
  if (h.records_count < 0) {
    return Status::InvalidArgument(
        fmt::format("record batch recordsCount {} is negative", h.records_count));
  }
  if (h.codec() > static_cast<int>(Codec::kZstd)) {
    return Status::InvalidArgument(fmt::format("record batch codec {} is unknown", h.codec()));
  }
  if (header != nullptr) *header = h;
  return Status::Ok();
}

Result<std::vector<RecordBatchHeader>> SplitBatches(std::string_view batches) {
  std::vector<RecordBatchHeader> headers;
  std::size_t position = 0;
  while (position < batches.size()) {
    const std::string_view rest = batches.substr(position);
    Result<RecordBatchHeader> parsed = ParseRecordBatchHeader(rest);
    if (!parsed.ok()) {
      return Status::Corruption(fmt::format("partial record batch at byte {}: {} bytes left",
                                            position, rest.size()));
    }
    const RecordBatchHeader& h = parsed.value();
    if (h.batch_length < kMinBatchLength) {
      return Status::Corruption(fmt::format("record batch at byte {} has length {} below {}",
                                            position, h.batch_length, kMinBatchLength));
    }
    if (h.size_in_bytes() > static_cast<std::int64_t>(rest.size())) {
      return Status::Corruption(
          fmt::format("partial record batch at byte {}: needs {} bytes, {} left", position,
                      h.size_in_bytes(), rest.size()));
    }
    position += static_cast<std::size_t>(h.size_in_bytes());
    headers.push_back(h);
  }
  return headers;
}

Result<std::vector<RecordBatchHeader>> ValidateRecordBatches(std::string_view batches) {
  Result<std::vector<RecordBatchHeader>> split = SplitBatches(batches);
  if (!split.ok()) return split;
  std::size_t position = 0;
  const std::vector<RecordBatchHeader>& headers = split.value();
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto size = static_cast<std::size_t>(headers[i].size_in_bytes());
    const Status s = ValidateRecordBatch(batches.substr(position, size));
    if (!s.ok()) {
      const std::string message =
          fmt::format("record batch {} at byte {}: {}", i, position, s.message());
      return s.code() == Status::Code::kCorruption ? Status::Corruption(message)
                                                   : Status::InvalidArgument(message);
    }
    position += size;
  }
  return split;
}

void StampBaseOffset(char* batch, std::int64_t base_offset) { StoreBigEndian(batch, base_offset); }

void StampPartitionLeaderEpoch(char* batch, std::int32_t epoch) {
  StoreBigEndian(batch + kPartitionLeaderEpochPosition, epoch);
}

}  // namespace tern::kafka
