// BuildRecordBatch: makes a valid, uncompressed magic-2 record batch from a list of records,
// with the records varint-encoded and the CRC-32C computed. Tests of the storage engine, the
// broker and the replicator use it to make the bytes a producer would send. Not on the
// Produce path: the broker stores clients' batches as they arrive. Pure; any thread may call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tern::kafka {

struct RecordHeaderField {
  std::string key;
  std::optional<std::string> value;  // nullopt encodes as length -1
};

struct RecordToBuild {
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value (a tombstone)
  std::vector<RecordHeaderField> headers;
  std::int64_t timestamp = 0;  // milliseconds since the epoch
};

struct RecordBatchOptions {
  std::int64_t base_offset = 0;
  std::int32_t partition_leader_epoch = -1;
  // Attribute bits besides the codec, which is always none: timestamp type (0x8),
  // transactional (0x10), control (0x20).
  std::int16_t attributes = 0;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
};

// The batch's baseTimestamp is the first record's timestamp, maxTimestamp the largest; record
// i gets offsetDelta i. An empty list gives a header-only batch with lastOffsetDelta 0.
std::string BuildRecordBatch(const std::vector<RecordToBuild>& records,
                             const RecordBatchOptions& options = {});

}  // namespace tern::kafka
