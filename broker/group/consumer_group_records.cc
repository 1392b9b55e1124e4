#include "broker/group/consumer_group_records.h"

#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

constexpr std::int16_t kValueVersion = 0;
constexpr bool kCompact = true;

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("__consumer_offsets consumer group " + std::string(what) +
                                 " record is malformed");
}

kafka::Writer StartValue() {
  kafka::Writer w;
  w.WriteInt16(kValueVersion);
  return w;
}

void NoTags(kafka::Writer& w) { w.WriteUnsignedVarint(0); }

void WritePartitions(kafka::Writer& w, const TopicPartitions& tp) {
  w.WriteArrayLength(tp.size(), kCompact);
  for (const auto& [topic, parts] : tp) {
    w.WriteUuid(topic);
    w.WriteArrayLength(parts.size(), kCompact);
    for (std::int32_t p : parts) w.WriteInt32(p);
    NoTags(w);
  }
}

bool ReadPartitions(kafka::Reader& r, TopicPartitions* out) {
  std::optional<std::int32_t> topics;
  if (!r.ReadArrayLength(&topics, kCompact)) return false;
  for (std::int32_t i = 0; i < topics.value_or(0); ++i) {
    kafka::Uuid id{};
    std::optional<std::int32_t> count;
    if (!r.ReadUuid(&id) || !r.ReadArrayLength(&count, kCompact)) return false;
    auto& parts = (*out)[id];
    for (std::int32_t j = 0; j < count.value_or(0); ++j) {
      std::int32_t p = 0;
      if (!r.ReadInt32(&p)) return false;
      parts.insert(p);
    }
    if (!kafka::SkipTaggedFields(r)) return false;
  }
  return true;
}

// Reads the version and leaves `r` at the body; false for a version this broker cannot read.
bool StartReading(kafka::Reader& r) {
  std::int16_t version = -1;
  return r.ReadInt16(&version) && version == kValueVersion;
}

bool IsConsumerType(std::int16_t type) {
  return (type >= 3 && type <= 8) || type == 16;
}

bool HasMember(ConsumerRecordType type) {
  return type == ConsumerRecordType::kMemberMetadata ||
         type == ConsumerRecordType::kTargetAssignmentMember ||
         type == ConsumerRecordType::kCurrentMemberAssignment ||
         type == ConsumerRecordType::kRegularExpression;
}

}  // namespace

std::string EncodeConsumerRecordKey(ConsumerRecordType type, std::string_view group,
                                    std::string_view member) {
  kafka::Writer w;
  w.WriteInt16(static_cast<std::int16_t>(type));
  w.WriteString(group, false);
  if (HasMember(type)) w.WriteString(member, false);
  return w.TakeBuffer();
}

Result<ConsumerRecordKey> DecodeConsumerRecordKey(std::string_view key) {
  kafka::Reader r(key);
  std::int16_t type = 0;
  if (!r.ReadInt16(&type)) return Malformed("key");
  if (!IsConsumerType(type)) return Status::NotFound("not a consumer group record");
  ConsumerRecordKey out;
  out.type = static_cast<ConsumerRecordType>(type);
  if (!r.ReadString(&out.group, false)) return Malformed("key");
  if (HasMember(out.type) && !r.ReadString(&out.member, false)) return Malformed("key");
  return out;
}

std::string EncodeEpochValue(std::int32_t epoch) {
  kafka::Writer w = StartValue();
  w.WriteInt32(epoch);
  NoTags(w);
  return w.TakeBuffer();
}

Result<std::int32_t> DecodeEpochValue(std::string_view value) {
  kafka::Reader r(value);
  std::int32_t epoch = 0;
  if (!StartReading(r) || !r.ReadInt32(&epoch) || !kafka::SkipTaggedFields(r)) {
    return Malformed("epoch");
  }
  return epoch;
}

std::string EncodeMemberMetadataValue(const MemberMetadataValue& v) {
  kafka::Writer w = StartValue();
  w.WriteNullableString(v.instance_id, kCompact);
  w.WriteNullableString(v.rack_id, kCompact);
  w.WriteString(v.client_id, kCompact);
  w.WriteString(v.client_host, kCompact);
  w.WriteArrayLength(v.subscribed_topic_names.size(), kCompact);
  for (const auto& name : v.subscribed_topic_names) w.WriteString(name, kCompact);
  w.WriteNullableString(v.subscribed_topic_regex, kCompact);
  w.WriteInt32(v.rebalance_timeout_ms);
  w.WriteNullableString(v.server_assignor, kCompact);
  if (!v.classic.has_value()) {
    NoTags(w);  // classicMemberMetadata is null: a member of the consumer protocol
    return w.TakeBuffer();
  }
  // Tag 0: the nullable struct (marker 1, its fields, its tagged fields).
  kafka::TaggedFieldsWriter tags;
  kafka::Writer& c = tags.Add(0);
  c.WriteInt8(1);
  c.WriteInt32(v.classic->session_timeout_ms);
  c.WriteArrayLength(v.classic->protocols.size(), kCompact);
  for (const auto& [name, metadata] : v.classic->protocols) {
    c.WriteString(name, kCompact);
    c.WriteBytes(metadata, kCompact);
    NoTags(c);
  }
  NoTags(c);
  tags.Finish(w, {});
  return w.TakeBuffer();
}

namespace {

// The tagged fields of a member metadata value: tag 0 (classicMemberMetadata) is read, the
// others skipped. A marker of 0 or below in tag 0 is null, as Kafka reads it.
bool ReadMemberMetadataTags(kafka::Reader& r, std::optional<ClassicMemberMetadata>* classic) {
  return kafka::ReadTaggedFields(r, [classic](std::uint32_t tag, std::string_view data) {
    if (tag != 0) return true;
    kafka::Reader f(data);
    std::int8_t marker = 0;
    if (!f.ReadInt8(&marker)) return false;
    if (marker <= 0) {
      classic->reset();
      return true;
    }
    ClassicMemberMetadata m;
    std::optional<std::int32_t> n;
    if (!f.ReadInt32(&m.session_timeout_ms) || !f.ReadArrayLength(&n, kCompact)) return false;
    for (std::int32_t j = 0; j < n.value_or(0); ++j) {
      std::string name;
      std::string metadata;
      if (!f.ReadString(&name, kCompact) || !f.ReadBytes(&metadata, kCompact) ||
          !kafka::SkipTaggedFields(f)) {
        return false;
      }
      m.protocols.emplace_back(std::move(name), std::move(metadata));
    }
    if (!kafka::SkipTaggedFields(f)) return false;
    *classic = std::move(m);
    return true;
  });
}

}  // namespace

Result<MemberMetadataValue> DecodeMemberMetadataValue(std::string_view value) {
  kafka::Reader r(value);
  MemberMetadataValue v;
  std::optional<std::int32_t> names;
  if (!StartReading(r) || !r.ReadNullableString(&v.instance_id, kCompact) ||
      !r.ReadNullableString(&v.rack_id, kCompact) || !r.ReadString(&v.client_id, kCompact) ||
      !r.ReadString(&v.client_host, kCompact) || !r.ReadArrayLength(&names, kCompact)) {
    return Malformed("member metadata");
  }
  for (std::int32_t i = 0; i < names.value_or(0); ++i) {
    std::string name;
    if (!r.ReadString(&name, kCompact)) return Malformed("member metadata");
    v.subscribed_topic_names.push_back(std::move(name));
  }
  if (!r.ReadNullableString(&v.subscribed_topic_regex, kCompact) ||
      !r.ReadInt32(&v.rebalance_timeout_ms) || !r.ReadNullableString(&v.server_assignor, kCompact) ||
      !ReadMemberMetadataTags(r, &v.classic)) {
    return Malformed("member metadata");
  }
  return v;
}

std::string EncodeTargetAssignmentValue(const TopicPartitions& target) {
  kafka::Writer w = StartValue();
  WritePartitions(w, target);
  NoTags(w);
  return w.TakeBuffer();
}

Result<TopicPartitions> DecodeTargetAssignmentValue(std::string_view value) {
  kafka::Reader r(value);
  TopicPartitions out;
  if (!StartReading(r) || !ReadPartitions(r, &out) || !kafka::SkipTaggedFields(r)) {
    return Malformed("target assignment");
  }
  return out;
}

std::string EncodeMemberAssignmentValue(const MemberAssignmentValue& v) {
  kafka::Writer w = StartValue();
  w.WriteInt32(v.member_epoch);
  w.WriteInt32(v.previous_member_epoch);
  w.WriteInt8(v.state);
  WritePartitions(w, v.assigned);
  WritePartitions(w, v.pending_revocation);
  NoTags(w);
  return w.TakeBuffer();
}

Result<MemberAssignmentValue> DecodeMemberAssignmentValue(std::string_view value) {
  kafka::Reader r(value);
  MemberAssignmentValue v;
  if (!StartReading(r) || !r.ReadInt32(&v.member_epoch) ||
      !r.ReadInt32(&v.previous_member_epoch) || !r.ReadInt8(&v.state) ||
      !ReadPartitions(r, &v.assigned) || !ReadPartitions(r, &v.pending_revocation) ||
      !kafka::SkipTaggedFields(r)) {
    return Malformed("member assignment");
  }
  return v;
}

}  // namespace tern::broker::group
