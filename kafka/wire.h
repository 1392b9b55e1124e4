// Primitives of the Kafka wire format: a Reader that decodes from a byte view and a Writer that
// encodes into a growing buffer. Big-endian integers, unsigned and zig-zag varints, classic and
// compact (flexible-version) strings, bytes and arrays, UUIDs, and tagged-field sections.
//
// Reader follows one idiom: each Read* call consumes bytes from the front of the view and
// returns false when the input is short or malformed; the first failure sticks, so a caller can
// test once at the end of a group of reads. Nothing here throws or allocates beyond the values
// it returns. Neither class is thread-safe; each belongs to one request or response.
//
// Records (record batches inside Produce and Fetch) are not copied: decoding yields a view into
// the request's buffer, and encoding may reference file ranges that the connection sends with
// sendfile.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tern::kafka {

// A Kafka UUID (topic ids): 16 bytes, all zero meaning "none".
using Uuid = std::array<std::uint8_t, 16>;

// A range of bytes in an open file, sent to the client as is (sendfile on plaintext sockets).
// The file must stay open until the response is written; `keep_alive` holds whatever keeps it so.
struct FileRange {
  int fd = -1;
  std::int64_t position = 0;
  std::int64_t length = 0;
  std::shared_ptr<const void> keep_alive;

  friend bool operator==(const FileRange& a, const FileRange& b) {
    return a.fd == b.fd && a.position == b.position && a.length == b.length;
  }
};

// The records field of Produce and Fetch: null, bytes in memory (a view into a request buffer,
// or bytes owned by `owned`), or a list of file ranges.
class Records {
 public:
  Records() = default;  // null
  static Records View(std::string_view bytes) {
    Records r;
    r.null_ = false;
    r.view_ = bytes;
    return r;
  }
  static Records Owned(std::string bytes) {
    Records r;
    r.null_ = false;
    r.owned_ = std::make_shared<std::string>(std::move(bytes));
    r.view_ = *r.owned_;
    return r;
  }
  static Records Files(std::vector<FileRange> ranges) {
    Records r;
    r.null_ = false;
    r.files_ = std::move(ranges);
    return r;
  }

  bool is_null() const { return null_; }
  // Bytes in memory; empty when the records are file ranges.
  std::string_view bytes() const { return view_; }
  const std::vector<FileRange>& files() const { return files_; }
  std::int64_t size() const;

  friend bool operator==(const Records& a, const Records& b) {
    return a.null_ == b.null_ && a.view_ == b.view_ && a.files_ == b.files_;
  }

 private:
  bool null_ = true;
  std::string_view view_;
  std::shared_ptr<std::string> owned_;
  std::vector<FileRange> files_;
};

// A tagged field this build does not know, kept so that re-encoding gives the same bytes.
struct UnknownTag {
  std::uint32_t tag = 0;
  std::string data;
  friend bool operator==(const UnknownTag&, const UnknownTag&) = default;
};
using UnknownTags = std::vector<UnknownTag>;

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  std::size_t remaining() const { return data_.size(); }
  bool ok() const { return error_.empty(); }
  // The bytes not read yet.
  std::string_view rest() const { return data_; }

  bool ReadInt8(std::int8_t* out);
  bool ReadInt16(std::int16_t* out);
  bool ReadInt32(std::int32_t* out);
  bool ReadInt64(std::int64_t* out);
  bool ReadUint16(std::uint16_t* out);
  bool ReadUint32(std::uint32_t* out);
  bool ReadFloat64(double* out);
  bool ReadBool(bool* out);
  bool ReadUuid(Uuid* out);
  bool ReadUnsignedVarint(std::uint32_t* out);
  bool ReadVarint(std::int32_t* out);    // zig-zag
  bool ReadVarlong(std::int64_t* out);   // zig-zag

  bool ReadString(std::string* out, bool compact);
  bool ReadNullableString(std::optional<std::string>* out, bool compact);
  bool ReadBytes(std::string* out, bool compact);
  bool ReadNullableBytes(std::optional<std::string>* out, bool compact);
  bool ReadRecords(Records* out, bool compact);
  // Array length; -1 (returned as nullopt) means null. Fails if the count cannot fit in what
  // remains, so a hostile count never causes a huge allocation.
  bool ReadArrayLength(std::optional<std::int32_t>* out, bool compact);
  // Takes the next `n` bytes as a view.
  bool ReadRaw(std::size_t n, std::string_view* out);

  // Marks the input as malformed: `what` says what was wrong. Returns false.
  bool Fail(std::string_view what);
  // Adds where a failure happened ("MetadataRequest.topics") to the first failure's message,
  // once. Returns false.
  bool Where(std::string_view field);
  // Status for the first failure, naming what was being read; OK if none.
  Status status() const;

 private:
  bool Take(std::size_t n, const char** out);

  std::string_view data_;
  std::string error_;
  bool located_ = false;
};

class Writer {
 public:
  void WriteInt8(std::int8_t v);
  void WriteInt16(std::int16_t v);
  void WriteInt32(std::int32_t v);
  void WriteInt64(std::int64_t v);
  void WriteUint16(std::uint16_t v);
  void WriteUint32(std::uint32_t v);
  void WriteFloat64(double v);
  void WriteBool(bool v);
  void WriteUuid(const Uuid& v);
  void WriteUnsignedVarint(std::uint32_t v);
  void WriteVarint(std::int32_t v);
  void WriteVarlong(std::int64_t v);

  void WriteString(std::string_view v, bool compact);
  void WriteNullableString(const std::optional<std::string>& v, bool compact);
  void WriteBytes(std::string_view v, bool compact);
  void WriteNullableBytes(const std::optional<std::string>& v, bool compact);
  void WriteRecords(const Records& v, bool compact);
  void WriteArrayLength(std::size_t n, bool compact);
  void WriteNullArray(bool compact);
  void WriteRaw(std::string_view bytes) { buf_.append(bytes); }

  // Overwrites 4 bytes at `pos` with a big-endian int32 (for length prefixes known later).
  void PatchInt32(std::size_t pos, std::int32_t v);

  // Bytes written in memory so far.
  const std::string& buffer() const { return buf_; }
  std::string TakeBuffer() { return std::move(buf_); }
  // File ranges referenced by records, each inserted at a position of buffer().
  const std::vector<std::pair<std::size_t, FileRange>>& file_ranges() const { return files_; }
  // Total size of the encoding: the buffer plus every file range.
  std::int64_t size() const;

 private:
  std::string buf_;
  std::vector<std::pair<std::size_t, FileRange>> files_;
};

// Writes a tagged-field section: the known fields given to Add (in ascending tag order) merged
// with `unknown` tags, each as tag, size, bytes.
class TaggedFieldsWriter {
 public:
  // Starts field `tag`; encode its value into the returned Writer before the next call.
  Writer& Add(std::uint32_t tag);
  void Finish(Writer& out, const UnknownTags& unknown);

 private:
  std::vector<std::pair<std::uint32_t, Writer>> fields_;
};

// Reads a tagged-field section, handing each field's tag and bytes to `each`, which returns
// false for bytes it cannot read; false when the section or a field is malformed.
bool ReadTaggedFields(Reader& r,
                      const std::function<bool(std::uint32_t tag, std::string_view data)>& each);
// Reads past a tagged-field section whose fields the reader has no use for.
bool SkipTaggedFields(Reader& r);

}  // namespace tern::kafka
