#include "broker/group/group_metadata_record.h"

#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

constexpr std::int16_t kFirstRebalanceTimeoutVersion = 1;
constexpr std::int16_t kFirstStateTimestampVersion = 2;
constexpr std::int16_t kFirstInstanceIdVersion = 3;
constexpr std::int16_t kFirstFlexibleVersion = 4;
constexpr std::int16_t kNewestVersion = 4;

bool DecodeMember(kafka::Reader& r, std::int16_t version, GroupMemberMetadata* m) {
  const bool flexible = version >= kFirstFlexibleVersion;
  if (!r.ReadString(&m->member_id, flexible)) return false;
  if (version >= kFirstInstanceIdVersion &&
      !r.ReadNullableString(&m->group_instance_id, flexible)) {
    return false;
  }
  if (!r.ReadString(&m->client_id, flexible) || !r.ReadString(&m->client_host, flexible)) {
    return false;
  }
  if (version >= kFirstRebalanceTimeoutVersion && !r.ReadInt32(&m->rebalance_timeout_ms)) {
    return false;
  }
  if (!r.ReadInt32(&m->session_timeout_ms) || !r.ReadBytes(&m->subscription, flexible) ||
      !r.ReadBytes(&m->assignment, flexible)) {
    return false;
  }
  return !flexible || kafka::SkipTaggedFields(r);
}

Status Malformed() {
  return Status::InvalidArgument("__consumer_offsets group metadata value is malformed");
}

}  // namespace

std::string EncodeGroupMetadataValue(const GroupMetadataValue& value, std::int16_t version) {
  const bool flexible = version >= kFirstFlexibleVersion;
  kafka::Writer w;
  w.WriteInt16(version);
  w.WriteString(value.protocol_type, flexible);
  w.WriteInt32(value.generation);
  w.WriteNullableString(value.protocol, flexible);
  w.WriteNullableString(value.leader, flexible);
  if (version >= kFirstStateTimestampVersion) w.WriteInt64(value.current_state_timestamp_ms);
  w.WriteArrayLength(value.members.size(), flexible);
  for (const auto& m : value.members) {
    w.WriteString(m.member_id, flexible);
    if (version >= kFirstInstanceIdVersion) w.WriteNullableString(m.group_instance_id, flexible);
    w.WriteString(m.client_id, flexible);
    w.WriteString(m.client_host, flexible);
    if (version >= kFirstRebalanceTimeoutVersion) w.WriteInt32(m.rebalance_timeout_ms);
    w.WriteInt32(m.session_timeout_ms);
    w.WriteBytes(m.subscription, flexible);
    w.WriteBytes(m.assignment, flexible);
    if (flexible) w.WriteUnsignedVarint(0);
  }
  if (flexible) w.WriteUnsignedVarint(0);
  return w.TakeBuffer();
}

Result<GroupMetadataValue> DecodeGroupMetadataValue(std::string_view bytes) {
  kafka::Reader r(bytes);
  std::int16_t version = 0;
  if (!r.ReadInt16(&version)) return Malformed();
  if (version < 0 || version > kNewestVersion) {
    return Status::Unsupported("group metadata value version " + std::to_string(version));
  }
  const bool flexible = version >= kFirstFlexibleVersion;
  GroupMetadataValue out;
  if (!r.ReadString(&out.protocol_type, flexible) || !r.ReadInt32(&out.generation) ||
      !r.ReadNullableString(&out.protocol, flexible) ||
      !r.ReadNullableString(&out.leader, flexible)) {
    return Malformed();
  }
  if (version >= kFirstStateTimestampVersion && !r.ReadInt64(&out.current_state_timestamp_ms)) {
    return Malformed();
  }
  std::optional<std::int32_t> count;
  if (!r.ReadArrayLength(&count, flexible)) return Malformed();
  for (std::int32_t i = 0; i < count.value_or(0); ++i) {
    GroupMemberMetadata m;
    if (!DecodeMember(r, version, &m)) return Malformed();
    out.members.push_back(std::move(m));
  }
  if (flexible && !kafka::SkipTaggedFields(r)) return Malformed();
  return out;
}

}  // namespace tern::broker::group
