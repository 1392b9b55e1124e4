#include "replicator/topic_sync.h"

#include <spdlog/spdlog.h>

#include <set>

namespace tern::replicator {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

std::map<std::string, TopicConfigs> CopiedConfigs(const std::map<std::string, TopicConfigs>& all) {
  std::map<std::string, TopicConfigs> out;
  for (const auto& [topic, configs] : all) {
    auto& kept = out[topic];
    for (const auto& [name, value] : configs) {
      if (IsCopiedTopicConfig(name)) kept[name] = value;
    }
  }
  return out;
}

// Runs CreateTopics for several new topics; TOPIC_ALREADY_EXISTS counts as success.
Status CreateTopics(rd_kafka_t* admin, const std::vector<rd_kafka_NewTopic_t*>& topics) {
  auto options = NewAdminOptions(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS, kTimeout);
  auto event = AdminCall(admin, kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_CreateTopics(admin, const_cast<rd_kafka_NewTopic_t**>(topics.data()),
                          topics.size(), options.get(), q);
  });
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
      rd_kafka_event_CreateTopics_result(event.value().get()), &n);
  Status first = Status::Ok();
  for (size_t i = 0; i < n; ++i) {
    auto err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    const char* why = rd_kafka_topic_result_error_string(results[i]);
    std::string message = std::string("create topic ") + rd_kafka_topic_result_name(results[i]) +
                          ": " + (why != nullptr ? why : rd_kafka_err2str(err));
    spdlog::error("{}", message);
    if (first.ok()) first = Status::Unavailable(message);
  }
  return first;
}

rd_kafka_NewTopic_t* NewTopic(const std::string& name, std::int32_t partitions,
                              std::int32_t replication_factor, const TopicConfigs& configs) {
  char errstr[256];
  rd_kafka_NewTopic_t* t =
      rd_kafka_NewTopic_new(name.c_str(), partitions, replication_factor, errstr, sizeof errstr);
  for (const auto& [key, value] : configs) {
    rd_kafka_NewTopic_set_config(t, key.c_str(), value.c_str());
  }
  return t;
}

}  // namespace

Status EnsureTopic(rd_kafka_t* admin, const std::string& topic, std::int32_t partitions,
                   std::int32_t replication_factor, const TopicConfigs& configs,
                   std::chrono::milliseconds timeout) {
  (void)timeout;
  std::vector<rd_kafka_NewTopic_t*> topics = {
      NewTopic(topic, partitions, replication_factor, configs)};
  Status st = CreateTopics(admin, topics);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
  return st;
}

TopicSync::TopicSync(const ReplicatorConfig& config, const TopicNaming& naming,
                     rd_kafka_t* source_admin, rd_kafka_t* target_admin)
    : config_(config), naming_(naming), source_(source_admin), target_(target_admin) {
  auto compiled = CompiledNameFilter::Compile(config.topics);
  if (compiled.ok()) filter_ = std::move(compiled).value();  // validated at load already
}

bool TopicSync::Wanted(const std::string& topic) const {
  return !naming_.IsExcluded(topic) && filter_.Matches(topic);
}

Result<std::vector<ReplicatedTopic>> TopicSync::Run() {
  auto source_topics = ListTopics(source_, kTimeout);
  if (!source_topics.ok()) return Status::Unavailable("source " + source_topics.status().message());
  auto target_topics = ListTopics(target_, kTimeout);
  if (!target_topics.ok()) return Status::Unavailable("target " + target_topics.status().message());
  std::map<std::string, std::int32_t> on_target;
  for (const auto& t : target_topics.value()) on_target[t.name] = t.partitions;

  std::vector<ReplicatedTopic> wanted;
  for (const auto& t : source_topics.value()) {
    if (Wanted(t.name) && t.partitions > 0) {
      wanted.push_back({t.name, naming_.TargetTopic(t.name), t.partitions});
    }
  }

  // New topics: created with the source's configs in one request.
  std::vector<std::string> missing;
  for (const auto& t : wanted) {
    if (!on_target.contains(t.target)) missing.push_back(t.source);
  }
  if (!missing.empty()) {
    auto configs = DescribeTopicConfigs(source_, missing, kTimeout);
    if (!configs.ok()) return configs.status();
    auto copied = CopiedConfigs(configs.value());
    std::vector<rd_kafka_NewTopic_t*> create;
    for (const auto& t : wanted) {
      if (on_target.contains(t.target) || !copied.contains(t.source)) continue;
      create.push_back(NewTopic(t.target, t.partitions, config_.replication_factor,
                                copied[t.source]));
      spdlog::info("creating target topic {} ({} partitions) for source topic {}", t.target,
                   t.partitions, t.source);
    }
    if (!create.empty()) {
      (void)CreateTopics(target_, create);  // errors are logged; retried next round
      rd_kafka_NewTopic_destroy_array(create.data(), create.size());
    }
    target_topics = ListTopics(target_, kTimeout);
    if (!target_topics.ok()) return target_topics.status();
    on_target.clear();
    for (const auto& t : target_topics.value()) on_target[t.name] = t.partitions;
  }

  // Partition additions.
  std::vector<ReplicatedTopic> ready;
  for (const auto& t : wanted) {
    auto it = on_target.find(t.target);
    if (it == on_target.end()) continue;
    if (it->second < t.partitions) {
      spdlog::info("adding partitions to target topic {}: {} -> {}", t.target, it->second,
                   t.partitions);
      char errstr[256];
      rd_kafka_NewPartitions_t* np =
          rd_kafka_NewPartitions_new(t.target.c_str(), t.partitions, errstr, sizeof errstr);
      auto options = NewAdminOptions(target_, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, kTimeout);
      auto event = AdminCall(target_, kTimeout, [&](rd_kafka_queue_t* q) {
        rd_kafka_CreatePartitions(target_, &np, 1, options.get(), q);
      });
      rd_kafka_NewPartitions_destroy(np);
      if (!event.ok()) {
        spdlog::warn("adding partitions to {}: {}", t.target, event.status().message());
      }
      // Replicate what the target has now; the rest follows next round.
      ready.push_back({t.source, t.target, it->second});
      continue;
    }
    if (it->second > t.partitions) {
      spdlog::warn("target topic {} has {} partitions, more than the source's {}; the extra "
                   "partitions receive nothing",
                   t.target, it->second, t.partitions);
    }
    ready.push_back(t);
  }
  if (auto st = SyncConfigs(ready); !st.ok()) {
    spdlog::warn("topic config sync: {}", st.message());
  }
  return ready;
}

Status TopicSync::SyncConfigs(const std::vector<ReplicatedTopic>& topics) {
  if (topics.empty()) return Status::Ok();
  std::vector<std::string> sources;
  for (const auto& t : topics) sources.push_back(t.source);
  auto described = DescribeTopicConfigs(source_, sources, kTimeout);
  if (!described.ok()) return described.status();
  auto copied = CopiedConfigs(described.value());

  // Topics whose copied configs changed since last applied (first round: compare with what
  // the target has, so a restart does not rewrite every topic).
  std::vector<std::string> unknown;
  for (const auto& t : topics) {
    if (!applied_.contains(t.target)) unknown.push_back(t.target);
  }
  if (!unknown.empty()) {
    auto on_target = DescribeTopicConfigs(target_, unknown, kTimeout);
    if (on_target.ok()) {
      for (auto& [topic, configs] : CopiedConfigs(on_target.value())) applied_[topic] = configs;
    }
  }
  std::vector<rd_kafka_ConfigResource_t*> changes;
  for (const auto& t : topics) {
    auto it = copied.find(t.source);
    if (it == copied.end()) continue;
    if (applied_.contains(t.target) && applied_[t.target] == it->second) continue;
    spdlog::info("topic configs of {} changed at the source; applying to {}", t.source,
                 t.target);
    auto* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.target.c_str());
    for (const auto& [key, value] : it->second) {
      rd_kafka_ConfigResource_set_config(resource, key.c_str(), value.c_str());
    }
    changes.push_back(resource);
    applied_[t.target] = it->second;
  }
  if (changes.empty()) return Status::Ok();
  // AlterConfigs replaces a topic's whole set of explicit configs, which is what mirroring
  // wants: a config removed at the source returns to the default on the target too.
  auto options = NewAdminOptions(target_, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, kTimeout);
  auto event = AdminCall(target_, kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_AlterConfigs(target_, changes.data(), changes.size(), options.get(), q);
  });
  rd_kafka_ConfigResource_destroy_array(changes.data(), changes.size());
  if (!event.ok()) {
    applied_.clear();  // re-read next round
    return event.status();
  }
  return Status::Ok();
}

}  // namespace tern::replicator
