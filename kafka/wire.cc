#include "kafka/wire.h"

#include "common/big_endian.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tern::kafka {

std::int64_t Records::size() const {
  if (!files_.empty()) {
    std::int64_t total = 0;
    for (const auto& f : files_) total += f.length;
    return total;
  }
  return static_cast<std::int64_t>(view_.size());
}

// ---- Reader ----

bool Reader::Fail(std::string_view what) {
  if (error_.empty()) error_ = std::string(what);
  data_ = {};
  return false;
}

bool Reader::Where(std::string_view field) {
  if (error_.empty()) error_ = "invalid value";
  if (!located_) {
    error_ += " at ";
    error_ += field;
    located_ = true;
  }
  return false;
}

Status Reader::status() const {
  if (error_.empty()) return Status::Ok();
  return Status::InvalidArgument("malformed input: " + error_);
}

bool Reader::Take(std::size_t n, const char** out) {
  if (!ok()) return false;
  if (data_.size() < n) return Fail("input ends early");
  *out = data_.data();
  data_.remove_prefix(n);
  return true;
}

bool Reader::ReadRaw(std::size_t n, std::string_view* out) {
  const char* p = nullptr;
  if (!Take(n, &p)) return false;
  *out = std::string_view(p, n);
  return true;
}

#define TERN_READ_FIXED(Name, Type)            \
  bool Reader::Name(Type* out) {               \
    const char* p = nullptr;                   \
    if (!Take(sizeof(Type), &p)) return false; \
    *out = LoadBigEndian<Type>(p);             \
    return true;                               \
  }
TERN_READ_FIXED(ReadInt8, std::int8_t)
TERN_READ_FIXED(ReadInt16, std::int16_t)
TERN_READ_FIXED(ReadInt32, std::int32_t)
TERN_READ_FIXED(ReadInt64, std::int64_t)
TERN_READ_FIXED(ReadUint16, std::uint16_t)
TERN_READ_FIXED(ReadUint32, std::uint32_t)
#undef TERN_READ_FIXED

bool Reader::ReadFloat64(double* out) {
  std::int64_t bits = 0;
  if (!ReadInt64(&bits)) return false;
  *out = std::bit_cast<double>(bits);
  return true;
}

bool Reader::ReadBool(bool* out) {
  std::int8_t v = 0;
  if (!ReadInt8(&v)) return false;
  *out = v != 0;
  return true;
}

bool Reader::ReadUuid(Uuid* out) {
  const char* p = nullptr;
  if (!Take(out->size(), &p)) return false;
  std::memcpy(out->data(), p, out->size());
  return true;
}

bool Reader::ReadUnsignedVarint(std::uint32_t* out) {
  std::uint32_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    const char* p = nullptr;
    if (!Take(1, &p)) return false;
    const auto byte = static_cast<std::uint8_t>(*p);
    if (shift == 28 && (byte & 0xf0) != 0) return Fail("varint overflows 32 bits");
    value |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *out = value;
      return true;
    }
  }
  return Fail("varint longer than 5 bytes");
}

bool Reader::ReadVarint(std::int32_t* out) {
  std::uint32_t raw = 0;
  if (!ReadUnsignedVarint(&raw)) return false;
  *out = static_cast<std::int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
  return true;
}

bool Reader::ReadVarlong(std::int64_t* out) {
  std::uint64_t raw = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    const char* p = nullptr;
    if (!Take(1, &p)) return false;
    const auto byte = static_cast<std::uint8_t>(*p);
    if (shift == 63 && (byte & 0xfe) != 0) return Fail("varlong overflows 64 bits");
    raw |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *out = static_cast<std::int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
      return true;
    }
  }
  return Fail("varlong longer than 10 bytes");
}

namespace {

// Reads a length for a string, bytes or records: classic ones carry it as int16 or int32,
// compact ones as unsigned varint of length + 1. Returns -1 for null.
bool ReadLength(Reader& r, bool compact, bool wide, std::int64_t* out) {
  if (compact) {
    std::uint32_t n = 0;
    if (!r.ReadUnsignedVarint(&n)) return false;
    *out = static_cast<std::int64_t>(n) - 1;
    return true;
  }
  if (wide) {
    std::int32_t n = 0;
    if (!r.ReadInt32(&n)) return false;
    *out = n;
    return true;
  }
  std::int16_t n = 0;
  if (!r.ReadInt16(&n)) return false;
  *out = n;
  return true;
}

bool ReadSized(Reader& r, bool compact, bool wide, bool nullable, std::string_view* out,
               bool* is_null) {
  std::int64_t n = 0;
  if (!ReadLength(r, compact, wide, &n)) return false;
  if (n < 0) {
    if (n != -1 || !nullable) return r.Fail("negative length");
    *is_null = true;
    return true;
  }
  *is_null = false;
  return r.ReadRaw(static_cast<std::size_t>(n), out);
}

}  // namespace

bool Reader::ReadString(std::string* out, bool compact) {
  std::string_view v;
  bool is_null = false;
  if (!ReadSized(*this, compact, false, false, &v, &is_null)) return false;
  out->assign(v);
  return true;
}

bool Reader::ReadNullableString(std::optional<std::string>* out, bool compact) {
  std::string_view v;
  bool is_null = false;
  if (!ReadSized(*this, compact, false, true, &v, &is_null)) return false;
  if (is_null) {
    out->reset();
  } else {
    out->emplace(v);
  }
  return true;
}

bool Reader::ReadBytes(std::string* out, bool compact) {
  std::string_view v;
  bool is_null = false;
  if (!ReadSized(*this, compact, true, false, &v, &is_null)) return false;
  out->assign(v);
  return true;
}

bool Reader::ReadNullableBytes(std::optional<std::string>* out, bool compact) {
  std::string_view v;
  bool is_null = false;
  if (!ReadSized(*this, compact, true, true, &v, &is_null)) return false;
  if (is_null) {
    out->reset();
  } else {
    out->emplace(v);
  }
  return true;
}

bool Reader::ReadRecords(Records* out, bool compact) {
  std::string_view v;
  bool is_null = false;
  if (!ReadSized(*this, compact, true, true, &v, &is_null)) return false;
  *out = is_null ? Records() : Records::View(v);
  return true;
}

bool Reader::ReadArrayLength(std::optional<std::int32_t>* out, bool compact) {
  std::int64_t n = 0;
  if (!ReadLength(*this, compact, true, &n)) return false;
  if (n < 0) {
    if (n != -1) return Fail("negative array length");
    out->reset();
    return true;
  }
  if (static_cast<std::uint64_t>(n) > data_.size()) return Fail("array longer than the input");
  *out = static_cast<std::int32_t>(n);
  return true;
}

// ---- Writer ----

void Writer::WriteInt8(std::int8_t v) { buf_.push_back(static_cast<char>(v)); }
void Writer::WriteInt16(std::int16_t v) { StoreBigEndian(buf_, v); }
void Writer::WriteInt32(std::int32_t v) { StoreBigEndian(buf_, v); }
void Writer::WriteInt64(std::int64_t v) { StoreBigEndian(buf_, v); }
void Writer::WriteUint16(std::uint16_t v) { StoreBigEndian(buf_, v); }
void Writer::WriteUint32(std::uint32_t v) { StoreBigEndian(buf_, v); }
void Writer::WriteFloat64(double v) { WriteInt64(std::bit_cast<std::int64_t>(v)); }
void Writer::WriteBool(bool v) { WriteInt8(v ? 1 : 0); }
void Writer::WriteUuid(const Uuid& v) {
  buf_.append(reinterpret_cast<const char*>(v.data()), v.size());
}

void Writer::WriteUnsignedVarint(std::uint32_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<char>(v));
}

void Writer::WriteVarint(std::int32_t v) {
  WriteUnsignedVarint((static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31));
}

void Writer::WriteVarlong(std::int64_t v) {
  auto raw = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
  while (raw >= 0x80) {
    buf_.push_back(static_cast<char>((raw & 0x7f) | 0x80));
    raw >>= 7;
  }
  buf_.push_back(static_cast<char>(raw));
}

void Writer::WriteString(std::string_view v, bool compact) {
  if (compact) {
    WriteUnsignedVarint(static_cast<std::uint32_t>(v.size() + 1));
  } else {
    WriteInt16(static_cast<std::int16_t>(v.size()));
  }
  buf_.append(v);
}

void Writer::WriteNullableString(const std::optional<std::string>& v, bool compact) {
  if (v) return WriteString(*v, compact);
  if (compact) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt16(-1);
  }
}

void Writer::WriteBytes(std::string_view v, bool compact) {
  if (compact) {
    WriteUnsignedVarint(static_cast<std::uint32_t>(v.size() + 1));
  } else {
    WriteInt32(static_cast<std::int32_t>(v.size()));
  }
  buf_.append(v);
}

void Writer::WriteNullableBytes(const std::optional<std::string>& v, bool compact) {
  if (v) return WriteBytes(*v, compact);
  if (compact) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt32(-1);
  }
}

void Writer::WriteRecords(const Records& v, bool compact) {
  if (v.is_null()) return WriteNullableBytes(std::nullopt, compact);
  const auto size = v.size();
  if (compact) {
    WriteUnsignedVarint(static_cast<std::uint32_t>(size + 1));
  } else {
    WriteInt32(static_cast<std::int32_t>(size));
  }
  if (v.files().empty()) {
    buf_.append(v.bytes());
    return;
  }
  for (const auto& range : v.files()) files_.emplace_back(buf_.size(), range);
}

void Writer::WriteArrayLength(std::size_t n, bool compact) {
  if (compact) {
    WriteUnsignedVarint(static_cast<std::uint32_t>(n + 1));
  } else {
    WriteInt32(static_cast<std::int32_t>(n));
  }
}

void Writer::WriteNullArray(bool compact) {
  if (compact) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt32(-1);
  }
}

void Writer::PatchInt32(std::size_t pos, std::int32_t v) {
  std::string bytes;
  StoreBigEndian(bytes, v);
  buf_.replace(pos, 4, bytes);
}

std::int64_t Writer::size() const {
  std::int64_t total = static_cast<std::int64_t>(buf_.size());
  for (const auto& [pos, range] : files_) total += range.length;
  return total;
}

// ---- TaggedFieldsWriter ----

Writer& TaggedFieldsWriter::Add(std::uint32_t tag) {
  fields_.emplace_back(tag, Writer());
  return fields_.back().second;
}

void TaggedFieldsWriter::Finish(Writer& out, const UnknownTags& unknown) {
  std::vector<std::pair<std::uint32_t, std::string_view>> all;
  all.reserve(fields_.size() + unknown.size());
  for (const auto& [tag, w] : fields_) all.emplace_back(tag, w.buffer());
  for (const auto& u : unknown) all.emplace_back(u.tag, u.data);
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out.WriteUnsignedVarint(static_cast<std::uint32_t>(all.size()));
  for (const auto& [tag, data] : all) {
    out.WriteUnsignedVarint(tag);
    out.WriteUnsignedVarint(static_cast<std::uint32_t>(data.size()));
    out.WriteRaw(data);
  }
}

bool ReadTaggedFields(Reader& r,
                      const std::function<bool(std::uint32_t tag, std::string_view data)>& each) {
  std::uint32_t count = 0;
  if (!r.ReadUnsignedVarint(&count)) return false;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t tag = 0;
    std::uint32_t size = 0;
    std::string_view data;
    if (!r.ReadUnsignedVarint(&tag) || !r.ReadUnsignedVarint(&size) || !r.ReadRaw(size, &data) ||
        !each(tag, data)) {
      return false;
    }
  }
  return true;
}

bool SkipTaggedFields(Reader& r) {
  return ReadTaggedFields(r, [](std::uint32_t, std::string_view) { return true; });
}

}  // namespace tern::kafka
