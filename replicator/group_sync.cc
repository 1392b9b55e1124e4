#include "replicator/group_sync.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/wall_clock.h"
#include "replicator/mm2_records.h"

namespace tern::replicator {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};


// The admin clients of group sync are consumer handles with a group of their own that they
// never join. librdkafka 2.0's ListConsumerGroupOffsets, answered NOT_COORDINATOR (a cluster
// whose coordinator is still loading after a restart), asks the handle's own consumer group to
// look up its coordinator again — a null dereference on a producer handle, which has no group.
Result<KafkaHandle> NewAdmin(const std::string& name, const Settings& user,
                             const std::string& client_id, const std::string& own_group) {
  return NewClient(RD_KAFKA_CONSUMER, name, user,
                   {{"client.id", client_id},
                    {"group.id", own_group},
                    {"enable.auto.commit", "false"}});
}

}  // namespace

Status EnsureInternalTopics(const ReplicatorConfig& config, rd_kafka_t* source_admin,
                            rd_kafka_t* target_admin) {
  const TopicConfigs compacted = {{"cleanup.policy", "compact"}};
  rd_kafka_t* syncs_cluster = config.offset_syncs_location == OffsetSyncsLocation::kSource
                                  ? source_admin
                                  : target_admin;
  if (auto st = EnsureTopic(syncs_cluster, mm2::OffsetSyncsTopic(config.target.alias), 1,
                            config.replication_factor, compacted, kTimeout);
      !st.ok()) {
    return st;
  }
  if (auto st = EnsureTopic(target_admin, mm2::CheckpointsTopic(config.source.alias), 1,
                            config.replication_factor, compacted, kTimeout);
      !st.ok()) {
    return st;
  }
  return EnsureTopic(target_admin, std::string(mm2::kHeartbeatsTopic), 1,
                     config.replication_factor, compacted, kTimeout);
}

GroupSync::GroupSync(const ReplicatorConfig& config, CheckpointStore& store, EngineStats& stats)
    : config_(config),
      store_(store),
      stats_(stats),
      checkpoints_topic_(mm2::CheckpointsTopic(config.source.alias)) {
  auto compiled = CompiledNameFilter::Compile(config.groups);
  if (compiled.ok()) filter_ = std::move(compiled).value();
}

GroupSync::~GroupSync() {
  if (producer_) rd_kafka_flush(producer_.get(), 5000);
}

Status GroupSync::Open() {
  const std::string own_group = config_.transactional_id + ".group-sync";
  auto source = NewAdmin("source admin", config_.source.client,
                         "tern-replicator." + config_.source.alias + ".groups", own_group);
  if (!source.ok()) return source.status();
  auto target = NewAdmin("target admin", config_.target.client,
                         "tern-replicator." + config_.target.alias + ".groups", own_group);
  if (!target.ok()) return target.status();
  auto producer = NewClient(RD_KAFKA_PRODUCER, "target checkpoint producer",
                            config_.target.client,
                            {{"client.id", "tern-replicator." + config_.target.alias + ".checkpoints"},
                             {"enable.idempotence", "true"},
                             {"linger.ms", "5"}});
  if (!producer.ok()) return producer.status();
  source_admin_ = std::move(source).value();
  target_admin_ = std::move(target).value();
  producer_ = std::move(producer).value();
  return Status::Ok();
}

bool GroupSync::Wanted(const std::string& group) const {
  if (group.rfind("tern-replicator.", 0) == 0) return false;
  if (group.rfind(config_.transactional_id, 0) == 0) return false;
  return filter_.Matches(group);
}

Result<std::vector<std::string>> GroupSync::ListGroups() {
  auto options =
      NewAdminOptions(source_admin_.get(), RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, kTimeout);
  auto event = AdminCall(source_admin_.get(), kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_ListConsumerGroups(source_admin_.get(), options.get(), q);
  });
  if (!event.ok()) return Status::Unavailable("listing source groups: " + event.status().message());
  const auto* result = rd_kafka_event_ListConsumerGroups_result(event.value().get());
  size_t n = 0;
  const rd_kafka_ConsumerGroupListing_t** listings =
      rd_kafka_ListConsumerGroups_result_valid(result, &n);
  std::vector<std::string> groups;
  for (size_t i = 0; i < n; ++i) {
    std::string group = rd_kafka_ConsumerGroupListing_group_id(listings[i]);
    if (Wanted(group)) groups.push_back(std::move(group));
  }
  return groups;
}

Result<std::map<std::pair<std::string, std::int32_t>, std::int64_t>> GroupSync::GroupOffsets(
    rd_kafka_t* rk, const std::string& group) {
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  auto options = NewAdminOptions(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, kTimeout);
  auto event = AdminCall(rk, kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, options.get(), q);
  });
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.value().get()), &n);
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> offsets;
  for (size_t g = 0; g < n; ++g) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[g])) {
      return Status::Unavailable("offsets of group " + group + ": " +
                                 rd_kafka_error_string(error));
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[g]);
    for (int i = 0; parts != nullptr && i < parts->cnt; ++i) {
      const auto& tp = parts->elems[i];
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0) {
        offsets[{tp.topic, tp.partition}] = tp.offset;
      }
    }
  }
  return offsets;
}

Status GroupSync::Produce(const std::string& topic, const std::string& key,
                          const std::string& value) {
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt > 100) {
      return KafkaStatus(err, "producing to " + topic);
    }
    rd_kafka_poll(producer_.get(), 50);
  }
}

Status GroupSync::SyncOnce(const std::vector<ReplicatedTopic>& topics) {
  // A cheap reachability check first: librdkafka 2.0's ListConsumerGroups asks every known
  // broker and reconnects without backoff while the cluster is down.
  for (rd_kafka_t* rk : {source_admin_.get(), target_admin_.get()}) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &md, 5000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(err, rk == source_admin_.get() ? "source unreachable"
                                                         : "target unreachable");
    }
    rd_kafka_metadata_destroy(md);
  }
  std::map<std::string, std::string> target_of;
  for (const auto& t : topics) target_of[t.source] = t.target;
  auto groups = ListGroups();
  if (!groups.ok()) return groups.status();
  Status first_error = Status::Ok();
  std::vector<GroupStatus> statuses;
  for (const auto& group : groups.value()) {
    GroupStatus& status = statuses.emplace_back();
    status.group = group;
    status.last_sync_ms = WallClockMs();
    auto offsets = GroupOffsets(source_admin_.get(), group);
    if (!offsets.ok()) {
      spdlog::warn("group {}: {}", group, offsets.status().message());
      status.last_error = {offsets.status().message(), WallClockMs()};
      if (first_error.ok()) first_error = offsets.status();  // its checkpoints are stale
      continue;
    }
    std::vector<Translated> translated;
    for (const auto& [tp, offset] : offsets.value()) {
      auto target = target_of.find(tp.first);
      if (target == target_of.end()) continue;
      auto t = store_.Translate({tp.first, tp.second}, offset);
      if (!t.ok()) return t.status();
      const bool exact = t.value().kind == Translation::kExact;
      status.offsets.push_back(
          {tp.first, tp.second, offset, target->second, exact ? t.value().offset : -1});
      if (!exact) continue;
      translated.push_back({target->second, tp.second, offset, t.value().offset});
    }
    for (const auto& t : translated) {
      auto key = std::make_tuple(group, t.target_topic, t.partition);
      auto value = std::make_pair(t.upstream, t.downstream);
      auto it = written_.find(key);
      if (it != written_.end() && it->second == value) continue;
      auto kv = mm2::Encode(mm2::Checkpoint{group, t.target_topic, t.partition, t.upstream,
                                            t.downstream, ""});
      if (auto st = Produce(checkpoints_topic_, kv.key, kv.value); !st.ok()) return st;
      written_[key] = value;
      stats_.checkpoints_written.fetch_add(1, std::memory_order_relaxed);
    }
    if (!translated.empty()) {
      auto committed = CommitOnTarget(group, translated);
      if (!committed.ok()) {
        spdlog::warn("group {}: committing translated offsets on the target: {}", group,
                     committed.status().message());
        status.last_error = {committed.status().message(), WallClockMs()};
        if (first_error.ok()) first_error = committed.status();
      } else {
        status.committed_on_target = committed.value();
      }
    }
  }
  stats_.PublishGroups(std::move(statuses));
  if (rd_kafka_flush(producer_.get(), static_cast<int>(kTimeout.count())) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable("checkpoints not acknowledged by the target in time");
  }
  return first_error;
}

Result<bool> GroupSync::CommitOnTarget(const std::string& group,
                                       const std::vector<Translated>& offsets) {
  // Only while the group has no members on the target: its own commits win there.
  const char* names[] = {group.c_str()};
  auto options =
      NewAdminOptions(target_admin_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, kTimeout);
  auto described = AdminCall(target_admin_.get(), kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_DescribeConsumerGroups(target_admin_.get(), names, 1, options.get(), q);
  });
  if (!described.ok()) return described.status();
  size_t n = 0;
  const rd_kafka_ConsumerGroupDescription_t** descriptions =
      rd_kafka_DescribeConsumerGroups_result_groups(
          rd_kafka_event_DescribeConsumerGroups_result(described.value().get()), &n);
  if (n != 1) return Status::Internal("DescribeConsumerGroups: no result");
  const auto state = rd_kafka_ConsumerGroupDescription_state(descriptions[0]);
  if (state != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
      state != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD &&
      state != RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN) {
    return false;  // active on the target
  }
  auto current = GroupOffsets(target_admin_.get(), group);
  if (!current.ok()) return current.status();
  PartitionList commit = NewPartitionList();
  for (const auto& t : offsets) {
    auto it = current.value().find({t.target_topic, t.partition});
    if (it != current.value().end() && it->second >= t.downstream) continue;  // never back
    rd_kafka_topic_partition_list_add(commit.get(), t.target_topic.c_str(), t.partition)->offset =
        t.downstream;
  }
  if (commit->cnt == 0) return true;
  rd_kafka_AlterConsumerGroupOffsets_t* request =
      rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), commit.get());
  auto alter_options =
      NewAdminOptions(target_admin_.get(), RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, kTimeout);
  auto altered = AdminCall(target_admin_.get(), kTimeout, [&](rd_kafka_queue_t* q) {
    rd_kafka_AlterConsumerGroupOffsets(target_admin_.get(), &request, 1, alter_options.get(), q);
  });
  rd_kafka_AlterConsumerGroupOffsets_destroy(request);
  if (!altered.ok()) return altered.status();
  size_t groups_n = 0;
  const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(altered.value().get()), &groups_n);
  for (size_t g = 0; g < groups_n; ++g) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(results[g])) {
      return Status::Unavailable(rd_kafka_error_string(error));
    }
    const auto* parts = rd_kafka_group_result_partitions(results[g]);
    for (int i = 0; parts != nullptr && i < parts->cnt; ++i) {
      if (parts->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaStatus(parts->elems[i].err,
                           PartitionName(parts->elems[i].topic, parts->elems[i].partition));
      }
    }
  }
  stats_.group_offsets_committed.fetch_add(commit->cnt, std::memory_order_relaxed);
  return true;
}

Status GroupSync::Heartbeat() {
  auto kv = mm2::Encode(mm2::Heartbeat{config_.source.alias, config_.target.alias, WallClockMs()});
  Status st = Produce(std::string(mm2::kHeartbeatsTopic), kv.key, kv.value);
  rd_kafka_poll(producer_.get(), 0);
  return st;
}

}  // namespace tern::replicator
