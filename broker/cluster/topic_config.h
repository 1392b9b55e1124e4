// Topic configs as Kafka names them (retention.ms, cleanup.policy, ...): which names exist,
// their types and defaults, validation of values, and the storage settings they imply.
// A topic stores only the configs set on it; everything else comes from the broker's log
// defaults or Kafka's own defaults. Pure functions over values; any thread may call.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/storage/log_config.h"
#include "common/result.h"
#include "config/broker_config.h"

namespace tern::broker {

using TopicConfigs = std::map<std::string, std::string>;

// Kafka's ConfigType numbering in DescribeConfigs responses.
enum class ConfigType : std::int8_t {
  kBoolean = 1, kString = 2, kInt = 3, kShort = 4, kLong = 5, kDouble = 6, kList = 7,
};

// Kafka's ConfigSource numbering in DescribeConfigs responses.
enum class ConfigSource : std::int8_t {
  kTopic = 1,         // set on the topic
  kStaticBroker = 4,  // from the broker's configuration file
  kDefault = 5,       // the built-in default
};

struct TopicConfigEntry {
  std::string name;
  std::string value;
  ConfigType type;
  ConfigSource source;
  std::string documentation;
};

// Checks one name and value: the name must be a known topic config and the value must parse
// and lie in range. InvalidArgument names the config and says what is wrong.
Status ValidateTopicConfig(const std::string& name, const std::string& value);

// Every known topic config with its effective value for a topic that sets `overrides`.
std::vector<TopicConfigEntry> DescribeTopicConfigs(const BrokerLogDefaults& defaults,
                                                   const TopicConfigs& overrides);

// How the broker treats record timestamps for a topic (message.timestamp.* configs).
struct TimestampPolicy {
  bool log_append_time = false;           // message.timestamp.type=LogAppendTime
  std::int64_t before_max_ms = std::numeric_limits<std::int64_t>::max();  // message.timestamp.before.max.ms
  std::int64_t after_max_ms = 3600000;     // message.timestamp.after.max.ms
};
TimestampPolicy TimestampPolicyOf(const TopicConfigs& overrides);

// True when the topic's cleanup.policy (its own, or the broker's default) includes compact.
bool IsCompacted(const BrokerLogDefaults& defaults, const TopicConfigs& overrides);

// The storage settings for a topic that sets `overrides` (already validated).
storage::LogConfig ToLogConfig(const BrokerLogDefaults& defaults, const TopicConfigs& overrides);

}  // namespace tern::broker
