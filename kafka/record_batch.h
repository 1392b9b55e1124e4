// Magic-2 record batches, the unit Kafka stores and ships: header parsing, validation (framing,
// magic, CRC-32C) and the two stamps a broker writes into a batch it accepts (base offset and
// partition leader epoch, both outside the CRC so the client's checksum stays valid).
//
// Layout (big-endian), 61-byte header then the records:
//   baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 | crc u32 |
//   attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
//   producerId i64 | producerEpoch i16 | baseSequence i32 | recordsCount i32 | records...
// batchLength counts the bytes after itself; the CRC covers attributes through the end.
//
// Pure functions over byte views: no allocation beyond returned vectors, any thread may call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "kafka/compression.h"

namespace tern::kafka {

inline constexpr std::size_t kRecordBatchHeaderSize = 61;
// baseOffset and batchLength: the bytes not counted by batchLength.
inline constexpr std::size_t kRecordBatchLogOverhead = 12;
// The smallest legal batchLength: a header with no records.
inline constexpr std::int32_t kMinBatchLength =
    static_cast<std::int32_t>(kRecordBatchHeaderSize - kRecordBatchLogOverhead);
inline constexpr std::int8_t kRecordBatchMagic = 2;

// Byte positions of fields inside a batch.
inline constexpr std::size_t kBatchLengthPosition = 8;
inline constexpr std::size_t kPartitionLeaderEpochPosition = 12;
inline constexpr std::size_t kMagicPosition = 16;
inline constexpr std::size_t kCrcPosition = 17;
inline constexpr std::size_t kAttributesPosition = 21;  // the CRC covers from here to the end

enum class TimestampType : std::int8_t { kCreateTime = 0, kLogAppendTime = 1 };

struct RecordBatchHeader {
  std::int64_t base_offset = 0;
  std::int32_t batch_length = 0;
  std::int32_t partition_leader_epoch = -1;
  std::int8_t magic = kRecordBatchMagic;
  std::uint32_t crc = 0;
  std::int16_t attributes = 0;
  std::int32_t last_offset_delta = 0;
  std::int64_t base_timestamp = 0;
  std::int64_t max_timestamp = 0;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  std::int32_t records_count = 0;

  // Compression codec number, attributes bits 0-2 (0 none .. 4 zstd; 5-7 are invalid).
  int codec() const { return attributes & 0x7; }
  TimestampType timestamp_type() const {
    return (attributes & 0x8) != 0 ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
  }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
  bool has_delete_horizon() const { return (attributes & 0x40) != 0; }
  std::int64_t last_offset() const { return base_offset + last_offset_delta; }
  // Bytes the whole batch occupies: header plus records.
  std::int64_t size_in_bytes() const {
    return static_cast<std::int64_t>(kRecordBatchLogOverhead) + batch_length;
  }

  friend bool operator==(const RecordBatchHeader&, const RecordBatchHeader&) = default;
};

// Decodes the 61-byte header at the start of `bytes`; the records need not be present.
// Fails with InvalidArgument when fewer than 61 bytes are given. Checks nothing else.
Result<RecordBatchHeader> ParseRecordBatchHeader(std::string_view bytes);

// Checks that `batch` is exactly one complete, intact magic-2 batch: magic 2, batchLength at
// least 49 and equal to the bytes given, CRC-32C matching, lastOffsetDelta and recordsCount
// not negative, codec 0..4. On success stores the header in `*header` when not null.
// Damaged bytes (length, CRC) give Corruption; well-formed but unacceptable values (magic,
// codec, negative counts) give InvalidArgument. The message names the field that failed.
Status ValidateRecordBatch(std::string_view batch, RecordBatchHeader* header = nullptr);

// Walks concatenated batches (a Produce request's records) and returns each header in order.
// Checks framing only: every batch has a full header, a batchLength of at least 49 and all its
// bytes present; a trailing partial batch fails with Corruption. Does not check CRCs.
Result<std::vector<RecordBatchHeader>> SplitBatches(std::string_view batches);

// SplitBatches plus ValidateRecordBatch on each batch; fails on the first bad batch, naming
// its index and byte position.
Result<std::vector<RecordBatchHeader>> ValidateRecordBatches(std::string_view batches);

// Overwrite the base offset (bytes 0..7) or partition leader epoch (bytes 12..15) of the batch
// starting at `batch`. Neither is covered by the CRC, so the batch stays valid.
// REQUIRES: `batch` points at a buffer of at least kRecordBatchHeaderSize bytes.
void StampBaseOffset(char* batch, std::int64_t base_offset);
void StampPartitionLeaderEpoch(char* batch, std::int32_t epoch);

}  // namespace tern::kafka
