#include "broker/cluster/topic_config.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

namespace tern::broker {
namespace {

constexpr std::int64_t kLongMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kIntMax = std::numeric_limits<std::int32_t>::max();

struct Spec {
  const char* name;
  ConfigType type;
  const char* kafka_default;  // used when the broker has no setting of its own for it
  std::int64_t min;           // for numbers
  std::int64_t max;
  std::vector<std::string> choices;  // for strings and lists; empty = any
  const char* doc;
};

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = {
      {"cleanup.policy", ConfigType::kList, "delete", 0, 0, {"delete", "compact"},
       "delete: old segments are removed by retention; compact: the latest record per key is kept"},
      {"compression.type", ConfigType::kString, "producer", 0, 0,
       {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"},
       "final compression of the topic; producer keeps what producers sent"},
      {"delete.retention.ms", ConfigType::kLong, "86400000", 0, kLongMax, {},
       "how long delete markers are kept on compacted topics, ms"},
      {"file.delete.delay.ms", ConfigType::kLong, "60000", 0, kLongMax, {},
       "delay before a deleted segment's files are removed, ms"},
      {"flush.messages", ConfigType::kLong, "9223372036854775807", 1, kLongMax, {},
       "accepted for compatibility; durability follows the broker's fsync policy"},
      {"flush.ms", ConfigType::kLong, "9223372036854775807", 0, kLongMax, {},
       "accepted for compatibility; durability follows the broker's fsync policy"},
      {"index.interval.bytes", ConfigType::kInt, "4096", 0, kIntMax, {},
       "bytes between offset-index entries"},
      {"max.compaction.lag.ms", ConfigType::kLong, "9223372036854775807", 1, kLongMax, {},
       "longest time a record stays uncompacted, ms"},
      {"max.message.bytes", ConfigType::kInt, "1048588", 0, kIntMax, {},
       "largest record batch accepted, bytes"},
      {"message.timestamp.after.max.ms", ConfigType::kLong, "3600000", 0, kLongMax, {},
       "how far in the future a record timestamp may be, ms"},
      {"message.timestamp.before.max.ms", ConfigType::kLong, "9223372036854775807", 0,
       kLongMax, {}, "how far in the past a record timestamp may be, ms"},
      {"message.timestamp.type", ConfigType::kString, "CreateTime", 0, 0,
       {"CreateTime", "LogAppendTime"}, "which timestamp records carry"},
      {"min.cleanable.dirty.ratio", ConfigType::kDouble, "0.5", 0, 1, {},
       "share of uncompacted log that triggers compaction"},
      {"min.compaction.lag.ms", ConfigType::kLong, "0", 0, kLongMax, {},
       "shortest time a record stays uncompacted, ms"},
      {"min.insync.replicas", ConfigType::kInt, "1", 1, kIntMax, {},
       "replicas that must acknowledge acks=all writes"},
      {"preallocate", ConfigType::kBoolean, "false", 0, 0, {"true", "false"},
       "accepted for compatibility"},
      {"retention.bytes", ConfigType::kLong, "-1", -1, kLongMax, {},
       "largest size of a partition before old segments are deleted, bytes; -1 no limit"},
      {"retention.ms", ConfigType::kLong, "604800000", -1, kLongMax, {},
       "age after which old segments are deleted, ms; -1 keeps forever"},
      {"segment.bytes", ConfigType::kInt, "1073741824", 14, kIntMax, {},
       "size at which the active segment is rolled, bytes"},
      {"segment.index.bytes", ConfigType::kInt, "10485760", 4, kIntMax, {},
       "accepted for compatibility; index files grow as needed"},
      {"segment.jitter.ms", ConfigType::kLong, "0", 0, kLongMax, {},
       "accepted for compatibility"},
      {"segment.ms", ConfigType::kLong, "604800000", 1, kLongMax, {},
       "age at which the active segment is rolled, ms"},
      {"unclean.leader.election.enable", ConfigType::kBoolean, "false", 0, 0,
       {"true", "false"}, "accepted for compatibility"},
  };
  return specs;
}

const Spec* FindSpec(const std::string& name) {
  for (const auto& s : Specs()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::optional<std::string> BrokerDefault(const BrokerLogDefaults& d, const std::string& name) {
  if (name == "segment.bytes") return std::to_string(d.segment_bytes);
  if (name == "segment.ms") return std::to_string(d.segment_ms);
  if (name == "retention.ms") return std::to_string(d.retention_ms);
  if (name == "retention.bytes") return std::to_string(d.retention_bytes);
  if (name == "max.message.bytes") return std::to_string(d.max_message_bytes);
  if (name == "index.interval.bytes") return std::to_string(d.index_interval_bytes);
  if (name == "cleanup.policy") return d.cleanup_policy;
  return std::nullopt;
}

bool ParseInt(const std::string& text, std::int64_t* out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && !text.empty();
}

std::int64_t Number(const BrokerLogDefaults& d, const TopicConfigs& o, const std::string& name) {
  std::int64_t v = 0;
  auto it = o.find(name);
  if (it != o.end() && ParseInt(it->second, &v)) return v;
  if (auto b = BrokerDefault(d, name); b && ParseInt(*b, &v)) return v;
  ParseInt(FindSpec(name)->kafka_default, &v);
  return v;
}

}  // namespace

Status ValidateTopicConfig(const std::string& name, const std::string& value) {
  const Spec* spec = FindSpec(name);
  if (spec == nullptr) return Status::InvalidArgument("unknown topic config '" + name + "'");
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid value '" + value + "' for " + name + ": " + why);
  };
  switch (spec->type) {
    case ConfigType::kInt:
    case ConfigType::kShort:
    case ConfigType::kLong: {
      std::int64_t v = 0;
      if (!ParseInt(value, &v)) return bad("not a whole number");
      if (v < spec->min || v > spec->max) {
        return bad("must be between " + std::to_string(spec->min) + " and " +
                   std::to_string(spec->max));
      }
      return Status::Ok();
    }
    case ConfigType::kDouble: {
      std::istringstream in(value);
      double v = 0;
      if (!(in >> v) || !in.eof()) return bad("not a number");
      if (v < static_cast<double>(spec->min) || v > static_cast<double>(spec->max)) {
        return bad("out of range");
      }
      return Status::Ok();
    }
    case ConfigType::kList: {
      std::istringstream in(value);
      std::string item;
      int count = 0;
      while (std::getline(in, item, ',')) {
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (std::find(spec->choices.begin(), spec->choices.end(), item) == spec->choices.end()) {
          return bad("'" + item + "' is not a valid choice");
        }
        ++count;
      }
      if (count == 0) return bad("empty list");
      return Status::Ok();
    }
    case ConfigType::kBoolean:
    case ConfigType::kString:
      if (!spec->choices.empty() &&
          std::find(spec->choices.begin(), spec->choices.end(), value) == spec->choices.end()) {
        return bad("not a valid choice");
      }
      return Status::Ok();
  }
  return Status::Ok();
}

std::vector<TopicConfigEntry> DescribeTopicConfigs(const BrokerLogDefaults& defaults,
                                                   const TopicConfigs& overrides) {
  std::vector<TopicConfigEntry> out;
  for (const auto& spec : Specs()) {
    TopicConfigEntry e{spec.name, spec.kafka_default, spec.type, ConfigSource::kDefault, spec.doc};
    if (auto it = overrides.find(spec.name); it != overrides.end()) {
      e.value = it->second;
      e.source = ConfigSource::kTopic;
    } else if (auto b = BrokerDefault(defaults, spec.name); b && *b != spec.kafka_default) {
      e.value = *b;
      e.source = ConfigSource::kStaticBroker;
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool IsCompacted(const BrokerLogDefaults& d, const TopicConfigs& o) {
  auto it = o.find("cleanup.policy");
  const std::string& policy = it != o.end() ? it->second : d.cleanup_policy;
  return policy.find("compact") != std::string::npos;
}

TimestampPolicy TimestampPolicyOf(const TopicConfigs& o) {
  const BrokerLogDefaults none;
  TimestampPolicy p;
  auto type = o.find("message.timestamp.type");
  p.log_append_time = type != o.end() && type->second == "LogAppendTime";
  p.before_max_ms = Number(none, o, "message.timestamp.before.max.ms");
  p.after_max_ms = Number(none, o, "message.timestamp.after.max.ms");
  return p;
}

storage::LogConfig ToLogConfig(const BrokerLogDefaults& d, const TopicConfigs& o) {
  storage::LogConfig c;
  c.segment_bytes = Number(d, o, "segment.bytes");
  c.segment_ms = Number(d, o, "segment.ms");
  c.retention_ms = Number(d, o, "retention.ms");
  c.retention_bytes = Number(d, o, "retention.bytes");
  c.max_message_bytes = static_cast<std::int32_t>(Number(d, o, "max.message.bytes"));
  c.index_interval_bytes = static_cast<std::int32_t>(Number(d, o, "index.interval.bytes"));
  c.file_delete_delay_ms = Number(d, o, "file.delete.delay.ms");
  std::string policy = d.cleanup_policy;
  if (auto it = o.find("cleanup.policy"); it != o.end()) policy = it->second;
  const bool compact = policy.find("compact") != std::string::npos;
  const bool remove = policy.find("delete") != std::string::npos;
  c.cleanup_policy = !compact  ? storage::CleanupPolicy::kDelete
                     : remove ? storage::CleanupPolicy::kCompactAndDelete
                              : storage::CleanupPolicy::kCompact;
  c.delete_retention_ms = Number(d, o, "delete.retention.ms");
  c.min_compaction_lag_ms = Number(d, o, "min.compaction.lag.ms");
  return c;
}

}  // namespace tern::broker
