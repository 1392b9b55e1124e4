#include "config/broker_config.h"

#include <yaml-cpp/yaml.h>

#include "config/yaml_fields.h"

namespace tern {
namespace {

using yaml_fields::BoolField;
using yaml_fields::FieldMap;
using yaml_fields::HostPortField;
using yaml_fields::IntField;
using yaml_fields::kInt32Max;
using yaml_fields::kInt64Max;
using yaml_fields::Setter;
using yaml_fields::StringField;

Setter FsyncField(FsyncPolicy* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    std::string text;
    if (auto s = StringField(&text, {"always", "interval", "never"})(node, name); !s.ok()) {
      return s;
    }
    *out = text == "always" ? FsyncPolicy::kAlways
           : text == "interval" ? FsyncPolicy::kInterval
                                : FsyncPolicy::kNever;
    return Status::Ok();
  };
}

FieldMap Fields(BrokerConfig& c) {
  return {
      {"node_id", IntField(&c.node_id, 0, kInt32Max)},
      {"data_dir", StringField(&c.data_dir)},
      {"listener", HostPortField(&c.listener)},
      {"advertised_listener", HostPortField(&c.advertised_listener)},
      {"auto_create_topics", BoolField(&c.auto_create_topics)},
      {"default_partitions", IntField(&c.default_partitions, 1, 100000)},
      {"max_request_bytes", IntField(&c.max_request_bytes, 1024, kInt32Max)},
      {"max_in_flight_per_connection", IntField(&c.max_in_flight_per_connection, 1, 4096)},
      {"fsync", FsyncField(&c.fsync)},
      {"fsync_interval_ms", IntField(&c.fsync_interval_ms, 1, kInt64Max)},
      {"group_commit_interval_us", IntField(&c.group_commit_interval_us, 0, 1000000)},
      {"group_commit_busy_bytes", IntField(&c.group_commit_busy_bytes, 1, kInt64Max)},
      {"retention_check_interval_ms", IntField(&c.retention_check_interval_ms, 1, kInt64Max)},
      {"producer_id_expiration_ms", IntField(&c.producer_id_expiration_ms, 1, kInt64Max)},
      {"metrics_listen", HostPortField(&c.metrics_listen)},
      {"log.segment_bytes", IntField(&c.log.segment_bytes, 14, kInt32Max)},
      {"log.segment_ms", IntField(&c.log.segment_ms, 1, kInt64Max)},
      {"log.retention_ms", IntField(&c.log.retention_ms, -1, kInt64Max)},
      {"log.retention_bytes", IntField(&c.log.retention_bytes, -1, kInt64Max)},
      {"log.max_message_bytes", IntField(&c.log.max_message_bytes, 0, kInt32Max)},
      {"log.index_interval_bytes", IntField(&c.log.index_interval_bytes, 0, kInt32Max)},
      {"log.cleanup_policy", StringField(&c.log.cleanup_policy, {"delete", "compact"})},
      {"offsets.topic_partitions", IntField(&c.offsets.topic_partitions, 1, 1000)},
      {"offsets.retention_minutes", IntField(&c.offsets.retention_minutes, 1, kInt64Max / 60000)},
      {"offsets.retention_check_interval_ms",
       IntField(&c.offsets.retention_check_interval_ms, 1, kInt64Max)},
      {"offsets.metadata_max_bytes", IntField(&c.offsets.metadata_max_bytes, 0, kInt32Max)},
      {"group.initial_rebalance_delay_ms",
       IntField(&c.group.initial_rebalance_delay_ms, 0, kInt32Max)},
      {"group.min_session_timeout_ms", IntField(&c.group.min_session_timeout_ms, 1, kInt32Max)},
      {"group.max_session_timeout_ms", IntField(&c.group.max_session_timeout_ms, 1, kInt32Max)},
      {"group.max_size", IntField(&c.group.max_size, 1, kInt32Max)},
      {"group.consumer_session_timeout_ms",
       IntField(&c.group.consumer_session_timeout_ms, 1, kInt32Max)},
      {"group.consumer_heartbeat_interval_ms",
       IntField(&c.group.consumer_heartbeat_interval_ms, 1, kInt32Max)},
      {"group.consumer_max_size", IntField(&c.group.consumer_max_size, 1, kInt32Max)},
      {"group.consumer_migration_policy",
       StringField(&c.group.consumer_migration_policy,
                   {"bidirectional", "upgrade", "downgrade", "disabled"})},
      {"transactions.topic_partitions", IntField(&c.transactions.topic_partitions, 1, 1000)},
      {"transactions.max_timeout_ms", IntField(&c.transactions.max_timeout_ms, 1, kInt32Max)},
      {"transactions.abort_check_interval_ms",
       IntField(&c.transactions.abort_check_interval_ms, 1, kInt64Max)},
      {"transactions.id_expiration_ms", IntField(&c.transactions.id_expiration_ms, 1, kInt64Max)},
      {"transactions.version", IntField(&c.transactions.version, 0, 2)},
  };
}

}  // namespace

Result<BrokerConfig> ParseBrokerConfig(std::string_view yaml, std::string_view source) {
  BrokerConfig config;
  const FieldMap fields = Fields(config);
  const Status s = yaml_fields::ParseDocument(yaml, source, [&](const YAML::Node& root) {
    return yaml_fields::ApplyFlattened(root, "", fields);
  });
  if (!s.ok()) return s;
  if (config.group.min_session_timeout_ms > config.group.max_session_timeout_ms) {
    return Status::InvalidArgument(std::string(source) +
                                   ": field 'group.min_session_timeout_ms' is larger than "
                                   "'group.max_session_timeout_ms'");
  }
  if (config.group.consumer_heartbeat_interval_ms >= config.group.consumer_session_timeout_ms) {
    return Status::InvalidArgument(std::string(source) +
                                   ": field 'group.consumer_heartbeat_interval_ms' must be below "
                                   "'group.consumer_session_timeout_ms'");
  }
  return config;
}

Result<BrokerConfig> LoadBrokerConfig(const std::string& path) {
  auto text = yaml_fields::ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseBrokerConfig(text.value(), path);
}

}  // namespace tern
