// The records inside a magic-2 record batch: the bytes after the 61-byte batch header, already
// decompressed when the batch's codec says so. Each record is a varint length, then
// attributes (int8), timestampDelta (varlong), offsetDelta (varint), key and value (varint
// length, -1 for null, then bytes), and headers (varint count, then per header a varint-length
// key and a nullable varint-length value). Every varint is zig-zag encoded.
//
// Decoding does not copy: a decoded Record holds views into the caller's buffer, which must
// outlive it. Also here: the key of a control record (transaction markers). Free functions
// without shared state; any thread may call them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "kafka/wire.h"

namespace tern::kafka {

// A header's key (never null) and value (null when absent).
using RecordHeader = std::pair<std::string_view, std::optional<std::string_view>>;

struct Record {
  std::int8_t attributes = 0;  // unused by Kafka so far; kept as written
  std::int64_t timestamp_delta = 0;
  std::int32_t offset_delta = 0;
  std::optional<std::string_view> key;    // nullopt: null key
  std::optional<std::string_view> value;  // nullopt: null value (a tombstone)
  std::vector<RecordHeader> headers;

  friend bool operator==(const Record&, const Record&) = default;
};

// Decodes exactly `expected_count` records that fill `records_bytes`. Success: `*out` holds
// them in order (it is cleared first), each viewing into `records_bytes`. Failure
// (InvalidArgument naming the record): fewer records than expected, bytes left after the last
// one, a record whose length field disagrees with its content, a negative length other than a
// null's -1, or any truncation; `*out` is then unspecified.
Status DecodeRecords(std::string_view records_bytes, std::int32_t expected_count,
                     std::vector<Record>* out);

// Appends `record`, length prefix included, to `out`.
// REQUIRES: every key, value and header fits in an int32 length.
void EncodeRecord(const Record& record, Writer& out);

// The type of a control record (one in a batch with the control bit), read from its key.
enum class ControlRecordType : std::int16_t { kAbort = 0, kCommit = 1 };

// Parses a control record's key: version (int16), type (int16), big-endian. Keys of a newer
// version may carry more bytes after these; they are ignored. Failure: InvalidArgument for a
// key shorter than 4 bytes or a negative version; Unsupported for a type other than abort or
// commit (Kafka's KRaft logs use further types; user partitions never do).
Result<ControlRecordType> ParseControlRecordKey(std::string_view key);

// The key ParseControlRecordKey reads, at version 0.
std::string EncodeControlRecordKey(ControlRecordType type);

}  // namespace tern::kafka
