#include "kafka/records.h"

#include <algorithm>

namespace tern::kafka {
namespace {

// The smallest record: a one-byte length, then attributes, timestampDelta, offsetDelta, key
// length, value length and header count of one byte each.
constexpr std::size_t kMinRecordSize = 7;
// The smallest header: key length and value length of one byte each.
constexpr std::size_t kMinHeaderSize = 2;

Status Bad(std::string_view what) { return Status::InvalidArgument(what); }

// A read inside a record failed: it ran past the record's length field, or a varint was
// malformed; the Reader's status says which.
Status Unreadable(const Reader& r, std::string_view what) {
  return Bad("cannot read " + std::string(what) + " within the record's length field (" +
             r.status().message() + ")");
}

// Reads a varint length and that many bytes. -1 means null where `nullable`.
Status ReadLengthPrefixed(Reader& r, bool nullable, std::string_view what,
                          std::optional<std::string_view>* out) {
  std::int32_t n = 0;
  if (!r.ReadVarint(&n)) return Unreadable(r, what);
  if (n < 0) {
    if (n != -1 || !nullable) {
      return Bad(std::string(what) + " has negative length " + std::to_string(n));
    }
    out->reset();
    return Status::Ok();
  }
  std::string_view bytes;
  if (!r.ReadRaw(static_cast<std::size_t>(n), &bytes)) return Unreadable(r, what);
  *out = bytes;
  return Status::Ok();
}

// Reads the fields of one record from `body`, which its length field delimited.
Status DecodeBody(std::string_view body, Record* record) {
  Reader r(body);
  if (!(r.ReadInt8(&record->attributes) && r.ReadVarlong(&record->timestamp_delta) &&
        r.ReadVarint(&record->offset_delta))) {
    return Unreadable(r, "attributes, timestampDelta and offsetDelta");
  }
  if (Status s = ReadLengthPrefixed(r, true, "key", &record->key); !s.ok()) return s;
  if (Status s = ReadLengthPrefixed(r, true, "value", &record->value); !s.ok()) return s;
  std::int32_t header_count = 0;
  if (!r.ReadVarint(&header_count)) return Unreadable(r, "header count");
  if (header_count < 0) return Bad("negative header count " + std::to_string(header_count));
  if (static_cast<std::size_t>(header_count) > r.remaining() / kMinHeaderSize) {
    return Bad("header count " + std::to_string(header_count) + " exceeds the record's length");
  }
  record->headers.reserve(static_cast<std::size_t>(header_count));
  for (std::int32_t i = 0; i < header_count; ++i) {
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    if (Status s = ReadLengthPrefixed(r, false, "header key", &key); !s.ok()) return s;
    if (Status s = ReadLengthPrefixed(r, true, "header value", &value); !s.ok()) return s;
    record->headers.emplace_back(*key, value);
  }
  if (r.remaining() != 0) {
    return Bad("length field says " + std::to_string(body.size()) +
               " bytes but the content ends " + std::to_string(r.remaining()) + " bytes earlier");
  }
  return Status::Ok();
}

void WriteLengthPrefixed(Writer& w, const std::optional<std::string_view>& bytes) {
  if (!bytes) {
    w.WriteVarint(-1);
    return;
  }
  w.WriteVarint(static_cast<std::int32_t>(bytes->size()));
  w.WriteRaw(*bytes);
}

}  // namespace

Status DecodeRecords(std::string_view records_bytes, std::int32_t expected_count,
                     std::vector<Record>* out) {
  out->clear();
  if (expected_count < 0) {
    return Bad("negative record count " + std::to_string(expected_count));
  }
  // A hostile count must not size the allocation; the bytes bound it as well.
  out->reserve(std::min(static_cast<std::size_t>(expected_count),
                        records_bytes.size() / kMinRecordSize));
  Reader r(records_bytes);
  for (std::int32_t i = 0; i < expected_count; ++i) {
    const auto fail = [i](std::string_view what) {
      return Bad("record " + std::to_string(i) + ": " + std::string(what));
    };
    if (r.remaining() == 0) {
      return Bad("batch says " + std::to_string(expected_count) + " records but holds " +
                 std::to_string(i));
    }
    std::int32_t length = 0;
    if (!r.ReadVarint(&length)) return fail(r.status().message());
    if (length < 0) return fail("negative length " + std::to_string(length));
    std::string_view body;
    if (!r.ReadRaw(static_cast<std::size_t>(length), &body)) {
      return fail("length " + std::to_string(length) + " runs past the end of the batch");
    }
    Record record;
    if (Status s = DecodeBody(body, &record); !s.ok()) return fail(s.message());
    out->push_back(std::move(record));
  }
  if (r.remaining() != 0) {
    return Bad(std::to_string(r.remaining()) + " bytes after the last of " +
               std::to_string(expected_count) + " records");
  }
  return Status::Ok();
}

void EncodeRecord(const Record& record, Writer& out) {
  Writer body;
  body.WriteInt8(record.attributes);
  body.WriteVarlong(record.timestamp_delta);
  body.WriteVarint(record.offset_delta);
  WriteLengthPrefixed(body, record.key);
  WriteLengthPrefixed(body, record.value);
  body.WriteVarint(static_cast<std::int32_t>(record.headers.size()));
  for (const auto& [key, value] : record.headers) {
    WriteLengthPrefixed(body, key);
    WriteLengthPrefixed(body, value);
  }
  out.WriteVarint(static_cast<std::int32_t>(body.buffer().size()));
  out.WriteRaw(body.buffer());
}

Result<ControlRecordType> ParseControlRecordKey(std::string_view key) {
  Reader r(key);
  std::int16_t version = 0;
  std::int16_t type = 0;
  if (!(r.ReadInt16(&version) && r.ReadInt16(&type))) {
    return Bad("control record key is " + std::to_string(key.size()) + " bytes, needs 4");
  }
  if (version < 0) return Bad("control record key has negative version " + std::to_string(version));
  switch (type) {
    case static_cast<std::int16_t>(ControlRecordType::kAbort): return ControlRecordType::kAbort;
    case static_cast<std::int16_t>(ControlRecordType::kCommit): return ControlRecordType::kCommit;
    default: break;
  }
  return Status::Unsupported("control record type " + std::to_string(type));
}

std::string EncodeControlRecordKey(ControlRecordType type) {
  Writer w;
  w.WriteInt16(0);
  w.WriteInt16(static_cast<std::int16_t>(type));
  return w.TakeBuffer();
}

}  // namespace tern::kafka
