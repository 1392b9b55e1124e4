#include "replicator/kafka_client.h"

#include <spdlog/spdlog.h>

namespace tern::replicator {
namespace {

// Routes librdkafka's own log lines to ours, so an operator sees one log.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const char* name = rd_kafka_name(rk);
  if (level <= 3) {
    spdlog::error("[{}] {}: {}", name, facility, message);
  } else if (level <= 4) {
    spdlog::warn("[{}] {}: {}", name, facility, message);
  } else {
    spdlog::debug("[{}] {}: {}", name, facility, message);
  }
}

Status SetAll(rd_kafka_conf_t* conf, const std::string& name, const Settings& settings) {
  char errstr[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument(name + " setting '" + key + "': " + errstr);
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckSettings(const std::string& name, const Settings& user) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Status st = SetAll(conf, name, user);
  // Settings accepted one by one may still clash (fetch.max.bytes below message.max.bytes, a
  // missing CA file): librdkafka checks them together when a client is made, so one of each
  // kind is made, with its logging off, and dropped at once.
  for (rd_kafka_type_t type : {RD_KAFKA_CONSUMER, RD_KAFKA_PRODUCER}) {
    if (!st.ok()) break;
    rd_kafka_conf_t* copy = rd_kafka_conf_dup(conf);
    char errstr[512];
    rd_kafka_conf_set(copy, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t* rk = rd_kafka_new(type, copy, errstr, sizeof errstr);  // takes copy on success
    if (rk == nullptr) {
      rd_kafka_conf_destroy(copy);
      st = Status::InvalidArgument(name + " settings: " + errstr);
    } else {
      rd_kafka_destroy(rk);
    }
  }
  rd_kafka_conf_destroy(conf);
  return st;
}

Result<KafkaHandle> NewClient(rd_kafka_type_t type, const std::string& name,
                              const Settings& user, const Settings& fixed,
                              const std::function<void(rd_kafka_conf_t*)>& customize) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Status st = SetAll(conf, name, user);
  if (st.ok()) st = SetAll(conf, name, fixed);
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  if (customize) customize(conf);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);  // takes conf on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(name + ": " + errstr);
  }
  return KafkaHandle(rk);
}

TopicHandle NewTopicHandle(rd_kafka_t* producer, const std::string& topic) {
  return TopicHandle(rd_kafka_topic_new(producer, topic.c_str(), nullptr),
                     [](rd_kafka_topic_t* rkt) {
                       if (rkt != nullptr) rd_kafka_topic_destroy(rkt);
                     });
}

PartitionList NewPartitionList(int capacity) {
  return PartitionList(rd_kafka_topic_partition_list_new(capacity));
}

std::string PartitionName(const std::string& topic, std::int32_t partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return Status::Unavailable(what + ": " + rd_kafka_err2str(err));
}

Result<std::vector<TopicInfo>> ListTopics(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "metadata");
  std::vector<TopicInfo> topics;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;  // e.g. being deleted; next round
    topics.push_back({t.topic, t.partition_cnt});
  }
  rd_kafka_metadata_destroy(md);
  return topics;
}

Result<KafkaEvent> WaitAdminResult(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout) {
  // The admin request carries its own timeout; wait a little longer for its result event.
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 5000);
  if (ev == nullptr) return Status::Unavailable("admin request timed out");
  KafkaEvent event(ev);
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(std::string("admin request failed: ") +
                               rd_kafka_event_error_string(ev));
  }
  return event;
}

AdminOptions NewAdminOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                             std::chrono::milliseconds timeout) {
  AdminOptions options(rd_kafka_AdminOptions_new(rk, op));
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()),
                                            errstr, sizeof errstr);
  return options;
}

Result<std::map<std::string, TopicConfigs>> DescribeTopicConfigs(
    rd_kafka_t* rk, const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  std::map<std::string, TopicConfigs> out;
  if (topics.empty()) return out;
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& topic : topics) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  }
  auto options = NewAdminOptions(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  auto event = AdminCall(rk, timeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), options.get(), q);
  });
  rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
  if (!event.ok()) return event.status();
  const auto* result = rd_kafka_event_DescribeConfigs_result(event.value().get());
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(result, &count);
  for (size_t r = 0; r < count; ++r) {
    if (rd_kafka_ConfigResource_error(described[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    TopicConfigs& configs = out[rd_kafka_ConfigResource_name(described[r])];
    size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[r], &n);
    for (size_t i = 0; i < n; ++i) {
      if (rd_kafka_ConfigEntry_source(entries[i]) !=
          RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
        continue;
      }
      const char* value = rd_kafka_ConfigEntry_value(entries[i]);
      if (value == nullptr || rd_kafka_ConfigEntry_is_sensitive(entries[i])) continue;
      configs[rd_kafka_ConfigEntry_name(entries[i])] = value;
    }
  }
  return out;
}

}  // namespace tern::replicator
