// Thin RAII layer over librdkafka's C API: handles, configuration from our settings maps,
// blocking admin calls and metadata. Everything the replicator says to a cluster goes through
// librdkafka, so any Kafka-protocol cluster works as source or target.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace tern::replicator {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using KafkaError = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

// A producer's handle on one topic, shared by the flows that write to it; it must go before
// its producer does.
using TopicHandle = std::shared_ptr<rd_kafka_topic_t>;

// Looks the topic's partition leaders up at once: a record produced by topic name to a
// topic the producer has not seen waits for its next periodic scan, up to a second.
TopicHandle NewTopicHandle(rd_kafka_t* producer, const std::string& topic);

using Settings = std::map<std::string, std::string>;

// Creates a client. `user` are the operator's settings for the cluster (passed through);
// `fixed` are settings the replicator depends on and override the operator's. `name` names
// the client in logs ("source consumer"). A setting librdkafka refuses is an error naming it.
// `customize`, when given, sets callbacks and the opaque on the configuration last.
Result<KafkaHandle> NewClient(rd_kafka_type_t type, const std::string& name,
                              const Settings& user, const Settings& fixed,
                              const std::function<void(rd_kafka_conf_t*)>& customize = {});

// Checks that librdkafka accepts every setting and their combination, for a consumer and a
// producer (it makes one of each and drops it at once; nothing is sent).
Status CheckSettings(const std::string& name, const Settings& user);

PartitionList NewPartitionList(int capacity = 0);

// "topic[3]"
std::string PartitionName(const std::string& topic, std::int32_t partition);

struct TopicInfo {
  std::string name;
  std::int32_t partitions = 0;
};

// Every topic the cluster lists (internal ones included), with its partition count.
Result<std::vector<TopicInfo>> ListTopics(rd_kafka_t* rk, std::chrono::milliseconds timeout);

// Runs one admin call: `start(queue)` issues it; the result event is returned when it arrives.
struct EventDeleter {
  void operator()(rd_kafka_event_t* ev) const { rd_kafka_event_destroy(ev); }
};
using KafkaEvent = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

template <typename Start>
Result<KafkaEvent> AdminCall(rd_kafka_t* rk, std::chrono::milliseconds timeout, Start start);
Result<KafkaEvent> WaitAdminResult(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout);

template <typename Start>
Result<KafkaEvent> AdminCall(rd_kafka_t* rk, std::chrono::milliseconds timeout, Start start) {
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  start(queue);
  auto result = WaitAdminResult(queue, timeout);
  rd_kafka_queue_destroy(queue);
  return result;
}

// Admin options with a request timeout, for any admin API.
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
using AdminOptions = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
AdminOptions NewAdminOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                             std::chrono::milliseconds timeout);

// The configs set explicitly on each topic (not defaults, not sensitive ones), by topic and
// name, in one request. A topic the cluster cannot describe is left out (next round).
using TopicConfigs = std::map<std::string, std::string>;
Result<std::map<std::string, TopicConfigs>> DescribeTopicConfigs(
    rd_kafka_t* rk, const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

// Status from a librdkafka error code, prefixed with what was being done.
Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& what);

}  // namespace tern::replicator
