#include "broker/group/offsets_records.h"

#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

constexpr std::int16_t kOffsetCommitKeyVersion = 1;
constexpr std::int16_t kGroupMetadataKeyVersion = 2;
constexpr std::int16_t kValueVersionWithExpiry = 1;
constexpr std::int16_t kValueVersion = 3;
constexpr std::int16_t kFlexibleValueVersion = 4;
constexpr std::int16_t kNewestValueVersion = 4;
constexpr char32_t kReplacement = 0xFFFD;

// Calls `unit` with each UTF-16 code unit of `utf8`.
template <typename Fn>
void ForEachUtf16Unit(std::string_view utf8, Fn&& unit) {
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    std::size_t length = 0;
    char32_t cp = 0;
    if (lead < 0x80) {
      length = 1;
      cp = lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      cp = lead & 0x07;
    }
    bool valid = length != 0 && i + length <= utf8.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto c = static_cast<unsigned char>(utf8[i + k]);
      if ((c & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are malformed too.
    if (valid && ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) ||
                  (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) {
      valid = false;
    }
    if (!valid) {
      unit(static_cast<char16_t>(kReplacement));
      i += 1;
      continue;
    }
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      unit(static_cast<char16_t>(0xD800 + (v >> 10)));
      unit(static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
    } else {
      unit(static_cast<char16_t>(cp));
    }
    i += length;
  }
}

Status Short(std::string_view what) {
  return Status::InvalidArgument("__consumer_offsets " + std::string(what) + " is malformed");
}

}  // namespace

std::string EncodeOffsetCommitKey(std::string_view group, std::string_view topic,
                                  std::int32_t partition) {
  kafka::Writer w;
  w.WriteInt16(kOffsetCommitKeyVersion);
  w.WriteString(group, false);
  w.WriteString(topic, false);
  w.WriteInt32(partition);
  return w.TakeBuffer();
}

std::string EncodeOffsetCommitValue(const OffsetCommitValue& value) {
  kafka::Writer w;
  if (value.expire_timestamp_ms >= 0) {
    w.WriteInt16(kValueVersionWithExpiry);
    w.WriteInt64(value.offset);
    w.WriteString(value.metadata, false);
    w.WriteInt64(value.commit_timestamp_ms);
    w.WriteInt64(value.expire_timestamp_ms);
  } else {
    w.WriteInt16(kValueVersion);
    w.WriteInt64(value.offset);
    w.WriteInt32(value.leader_epoch);
    w.WriteString(value.metadata, false);
    w.WriteInt64(value.commit_timestamp_ms);
  }
  return w.TakeBuffer();
}

std::string EncodeOffsetCommitValueV4(const OffsetCommitValue& value) {
  kafka::Writer w;
  w.WriteInt16(kFlexibleValueVersion);
  w.WriteInt64(value.offset);
  w.WriteInt32(value.leader_epoch);
  w.WriteString(value.metadata, true);
  w.WriteInt64(value.commit_timestamp_ms);
  w.WriteUnsignedVarint(0);  // no tagged fields
  return w.TakeBuffer();
}

std::string EncodeGroupMetadataKey(std::string_view group) {
  kafka::Writer w;
  w.WriteInt16(kGroupMetadataKeyVersion);
  w.WriteString(group, false);
  return w.TakeBuffer();
}

Result<OffsetsRecordKey> DecodeOffsetsRecordKey(std::string_view key) {
  kafka::Reader r(key);
  OffsetsRecordKey out;
  if (!r.ReadInt16(&out.version)) return Short("key");
  if (out.version == 0 || out.version == 1) {
    out.type = OffsetsRecordKey::Type::kOffsetCommit;
    if (!r.ReadString(&out.group, false) || !r.ReadString(&out.topic, false) ||
        !r.ReadInt32(&out.partition)) {
      return Short("offset commit key");
    }
  } else if (out.version == kGroupMetadataKeyVersion) {
    out.type = OffsetsRecordKey::Type::kGroupMetadata;
    if (!r.ReadString(&out.group, false)) return Short("group metadata key");
  } else {
    out.type = OffsetsRecordKey::Type::kOther;
  }
  return out;
}

Result<OffsetCommitValue> DecodeOffsetCommitValue(std::string_view value) {
  kafka::Reader r(value);
  std::int16_t version = 0;
  if (!r.ReadInt16(&version)) return Short("offset commit value");
  if (version < 0 || version > kNewestValueVersion) {
    return Status::Unsupported("offset commit value version " + std::to_string(version));
  }
  OffsetCommitValue out;
  const bool flexible = version >= kFlexibleValueVersion;
  bool ok = r.ReadInt64(&out.offset);
  if (version >= 3) ok = ok && r.ReadInt32(&out.leader_epoch);
  ok = ok && r.ReadString(&out.metadata, flexible) && r.ReadInt64(&out.commit_timestamp_ms);
  if (version == kValueVersionWithExpiry) ok = ok && r.ReadInt64(&out.expire_timestamp_ms);
  if (ok && flexible) {
    // Tagged fields are skipped: tag 0, the topic id, adds nothing to the key's topic name.
    std::uint32_t tags = 0;
    ok = r.ReadUnsignedVarint(&tags);
    for (std::uint32_t i = 0; ok && i < tags; ++i) {
      std::uint32_t tag = 0;
      std::uint32_t size = 0;
      std::string_view skipped;
      ok = r.ReadUnsignedVarint(&tag) && r.ReadUnsignedVarint(&size) && r.ReadRaw(size, &skipped);
    }
  }
  if (!ok) return Short("offset commit value");
  return out;
}

std::int32_t JavaStringHashCode(std::string_view utf8) {
  std::uint32_t h = 0;  // unsigned: Java's int overflow wraps
  ForEachUtf16Unit(utf8, [&](char16_t u) { h = 31 * h + static_cast<std::uint32_t>(u); });
  return static_cast<std::int32_t>(h);
}

std::size_t JavaStringLength(std::string_view utf8) {
  std::size_t n = 0;
  ForEachUtf16Unit(utf8, [&](char16_t) { ++n; });
  return n;
}

std::int32_t PartitionForGroup(std::string_view group, std::int32_t partitions) {
  const std::int32_t h = JavaStringHashCode(group);
  const std::int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
  return abs % partitions;
}

}  // namespace tern::broker::group
