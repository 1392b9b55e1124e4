#include "broker/group/consumer_protocol.h"

#include <algorithm>

#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

bool ReadPartitions(kafka::Reader& r, NamedPartitions* out) {
  std::optional<std::int32_t> topics;
  if (!r.ReadArrayLength(&topics, false)) return false;
  for (std::int32_t i = 0; i < topics.value_or(0); ++i) {
    std::string topic;
    std::optional<std::int32_t> count;
    if (!r.ReadString(&topic, false) || !r.ReadArrayLength(&count, false)) return false;
    auto& partitions = (*out)[topic];
    for (std::int32_t j = 0; j < count.value_or(0); ++j) {
      std::int32_t p = 0;
      if (!r.ReadInt32(&p) || p < 0) return false;
      partitions.insert(p);
    }
  }
  return true;
}

void WritePartitions(kafka::Writer& w, const NamedPartitions& partitions) {
  w.WriteArrayLength(partitions.size(), false);
  for (const auto& [topic, parts] : partitions) {
    w.WriteString(topic, false);
    w.WriteArrayLength(parts.size(), false);
    for (std::int32_t p : parts) w.WriteInt32(p);
  }
}

}  // namespace

std::optional<ConsumerSubscription> DecodeConsumerSubscription(std::string_view bytes) {
  kafka::Reader r(bytes);
  ConsumerSubscription s;
  std::optional<std::int32_t> count;
  if (!r.ReadInt16(&s.version) || s.version < 0 || !r.ReadArrayLength(&count, false)) {
    return std::nullopt;
  }
  for (std::int32_t i = 0; i < count.value_or(0); ++i) {
    std::string topic;
    if (!r.ReadString(&topic, false)) return std::nullopt;
    s.topics.push_back(std::move(topic));
  }
  if (!r.ReadNullableBytes(&s.user_data, false)) return std::nullopt;
  if (s.version >= 1 && !ReadPartitions(r, &s.owned)) return std::nullopt;
  if (s.version >= 2 && !r.ReadInt32(&s.generation)) return std::nullopt;
  if (s.version >= 3 && !r.ReadNullableString(&s.rack_id, false)) return std::nullopt;
  return s;
}

std::optional<ConsumerAssignment> DecodeConsumerAssignment(std::string_view bytes) {
  kafka::Reader r(bytes);
  ConsumerAssignment a;
  if (!r.ReadInt16(&a.version) || a.version < 0 || !ReadPartitions(r, &a.partitions) ||
      !r.ReadNullableBytes(&a.user_data, false)) {
    return std::nullopt;
  }
  return a;
}

std::vector<std::string> SortedTopicNames(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::int16_t AssignmentVersionFor(std::string_view subscription) {
  kafka::Reader r(subscription);
  std::int16_t version = 0;
  if (!r.ReadInt16(&version)) return 0;
  return std::clamp<std::int16_t>(version, 0, 3);
}

std::string EncodeConsumerAssignment(const NamedPartitions& partitions, std::int16_t version) {
  kafka::Writer w;
  w.WriteInt16(version);
  WritePartitions(w, partitions);
  w.WriteNullableBytes(std::nullopt, false);
  return w.TakeBuffer();
}

}  // namespace tern::broker::group
