#include "broker/group/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <set>

namespace tern::broker::group {
namespace {

// OffsetCommit v9 is the first to answer GROUP_ID_NOT_FOUND for a generation of a group that
// does not exist; older versions get ILLEGAL_GENERATION.
constexpr std::int16_t kFirstGroupIdNotFoundVersion = 9;

}  // namespace

kafka::ErrorCode WriteError(const Status& status) {
  if (status.code() == Status::Code::kTooLarge) return kafka::ErrorCode::kInvalidCommitOffsetSize;
  return kafka::ErrorCode::kCoordinatorNotAvailable;
}

GroupCoordinator::GroupCoordinator(std::unique_ptr<OffsetStore> offsets,
                                   const GroupCoordinatorConfig& config, const Topics& topics,
                                   asio::any_io_executor executor)
    : offsets_(std::move(offsets)),
      config_(config),
      topics_(topics),
      membership_(*offsets_, config.membership, executor),
      consumers_(topics, config.consumer, executor),
      expiry_timer_(executor) {
  membership_.Load(offsets_->TakeLoadedGroups());
  const auto loaded = offsets_->TakeLoadedConsumerRecords();
  const std::size_t members = consumers_.Load(loaded);
  if (!loaded.empty()) {
    spdlog::info("loaded {} consumer groups with {} members", consumers_.groups().size(),
                 members);
  }
  // A group is of one protocol. Each move between them leaves tombstones of the other's
  // records; a log written before those were written can hold both, and the consumer
  // group's records are then the later ones (moving back tombstones them).
  for (const auto& [id, g] : consumers_.groups()) {
    if (membership_.Find(id) != nullptr) {
      spdlog::warn("group {}: records of both protocols; it is a consumer group", id);
      membership_.Forget(id);
      consumers_.TombstoneClassicRecord(id);
    }
  }
}

Result<std::unique_ptr<GroupCoordinator>> GroupCoordinator::Open(const BrokerConfig& config,
                                                                 Topics& topics,
                                                                 GroupCommit& group_commit,
                                                                 DataNotifier& notifier,
                                                                 asio::any_io_executor executor) {
  OffsetStoreOptions options;
  options.partitions = config.offsets.topic_partitions;
  options.wait_for_fsync = config.fsync == FsyncPolicy::kAlways;
  options.notifier = &notifier;
  auto store = OffsetStore::Open(topics, group_commit, options);
  if (!store.ok()) return store.status();
  GroupCoordinatorConfig c;
  c.offsets_retention_ms = config.offsets.retention_minutes * 60 * 1000;
  c.retention_check_interval_ms = config.offsets.retention_check_interval_ms;
  c.metadata_max_bytes = config.offsets.metadata_max_bytes;
  c.membership.initial_rebalance_delay_ms = config.group.initial_rebalance_delay_ms;
  c.membership.min_session_timeout_ms = config.group.min_session_timeout_ms;
  c.membership.max_session_timeout_ms = config.group.max_session_timeout_ms;
  c.membership.max_size = config.group.max_size;
  c.consumer.session_timeout_ms = config.group.consumer_session_timeout_ms;
  c.consumer.heartbeat_interval_ms = config.group.consumer_heartbeat_interval_ms;
  c.consumer.max_size = config.group.consumer_max_size;
  const std::string& policy = config.group.consumer_migration_policy;
  c.consumer.online_upgrade = policy == "bidirectional" || policy == "upgrade";
  c.consumer.online_downgrade = policy == "bidirectional" || policy == "downgrade";
  c.consumer.classic_max_size = config.group.max_size;
  return std::make_unique<GroupCoordinator>(std::move(store).value(), c, topics,
                                            std::move(executor));
}

void GroupCoordinator::Start() {
  asio::co_spawn(expiry_timer_.get_executor(), ExpiryLoop(), asio::detached);
  consumers_.Start([this] {
    DowngradeGroups();
    FlushConsumerRecords();
  });
}

void GroupCoordinator::Stop() {
  stopped_ = true;
  expiry_timer_.cancel();
  consumers_.Stop();
}

bool GroupCoordinator::Exists(const std::string& group) const {
  return membership_.Find(group) != nullptr || consumers_.Find(group) != nullptr ||
         offsets_->Find(group) != nullptr || !offsets_->PendingKeys(group).empty();
}

GroupState GroupCoordinator::StateOf(const std::string& group) const {
  if (const ClassicGroup* g = membership_.Find(group)) return g->state();
  if (const ConsumerGroup* g = consumers_.Find(group); g != nullptr && !g->empty()) {
    return GroupState::kStable;  // its own states: StateNameOf
  }
  return Exists(group) ? GroupState::kEmpty : GroupState::kDead;
}

std::string_view GroupCoordinator::StateNameOf(const std::string& group) const {
  if (const ConsumerGroup* g = consumers_.Find(group)) return g->StateName();
  return GroupStateName(StateOf(group));
}

std::string_view GroupCoordinator::TypeOf(const std::string& group) const {
  return consumers_.Find(group) != nullptr ? kConsumerGroupType : kClassicGroupType;
}

std::string GroupCoordinator::ProtocolTypeOf(const std::string& group) const {
  const ClassicGroup* g = membership_.Find(group);
  if (g != nullptr && g->protocol_type().has_value()) return *g->protocol_type();
  return std::string(kConsumerProtocolType);
}

std::vector<std::string> GroupCoordinator::Groups() const {
  std::set<std::string> out;
  for (const auto& [group, topics] : offsets_->groups()) out.insert(group);
  for (const auto& [group, g] : membership_.groups()) out.insert(group);
  for (const auto& [group, g] : consumers_.groups()) out.insert(group);
  return {out.begin(), out.end()};
}

std::map<std::string, Status> GroupCoordinator::FlushConsumerRecords() {
  std::map<std::string, Status> out;
  out.swap(downgrade_appends_);
  std::vector<GroupRecord> records = consumers_.TakeRecords();
  for (std::size_t i = 0; i < records.size();) {
    // One append per run of records of the same group.
    std::size_t j = i;
    std::vector<KeyValue> batch;
    while (j < records.size() && records[j].group == records[i].group) {
      batch.emplace_back(std::move(records[j].key), std::move(records[j].value));
      ++j;
    }
    const std::string& group = records[i].group;
    Status s = offsets_->AppendRecords(group, batch);
    if (!s.ok()) spdlog::warn("group {}: writing its records failed: {}", group, s.ToString());
    auto [it, fresh] = out.emplace(group, s);
    if (!fresh && it->second.ok()) it->second = s;
    i = j;
  }
  return out;
}

asio::awaitable<ConsumerHeartbeatResult> GroupCoordinator::ConsumerHeartbeat(
    ConsumerHeartbeatRequest r) {
  ConsumerHeartbeatResult result = Decide(r);
  const auto written = FlushConsumerRecords();
  const auto it = written.find(r.group_id);
  if (it == written.end()) co_return result;
  Status s = it->second;
  if (s.ok()) s = co_await offsets_->WaitDurable(r.group_id);
  if (!s.ok()) {
    ConsumerHeartbeatResult failed;
    failed.error = kafka::ErrorCode::kCoordinatorNotAvailable;
    co_return failed;
  }
  co_return result;
}

ConsumerHeartbeatResult GroupCoordinator::Decide(const ConsumerHeartbeatRequest& r) {
  if (!r.group_id.empty() && !Available(r.group_id)) {
    ConsumerHeartbeatResult out;
    out.error = kafka::ErrorCode::kCoordinatorNotAvailable;
    return out;
  }
  if (ClassicGroup* g = membership_.Find(r.group_id)) {
    if (g->members().empty()) {
      if (auto refused = consumers_.UpgradeJoinError(r, 0, false, false);
          refused && r.member_epoch == 0) {
        return *refused;
      }
      if (r.member_epoch == 0) {
        membership_.Forget(r.group_id);
        consumers_.TombstoneClassicRecord(r.group_id);
      }
    } else if (r.member_epoch != 0) {
      ConsumerHeartbeatResult out;
      out.error = kafka::ErrorCode::kGroupIdNotFound;
      out.message = "Group " + r.group_id + " is not a consumer group.";
      return out;
    } else {
      const bool takes_a_place = !r.member_id.empty() && g->Find(r.member_id) != nullptr;
      const bool instance_taken = r.instance_id.has_value() && g->FindStatic(*r.instance_id);
      if (auto refused = consumers_.UpgradeJoinError(r, g->members().size(), takes_a_place,
                                                     instance_taken)) {
        return *refused;
      }
      if (auto refused = Upgrade(*g)) return *refused;
    }
  }
  ConsumerHeartbeatResult out = consumers_.Heartbeat(r);
  DowngradeGroups();
  return out;
}

kafka::ErrorCode GroupCoordinator::ValidateOffsetCommit(
    const std::string& group, std::int32_t generation, const std::string& member_id,
    const std::optional<std::string>& group_instance_id, std::int16_t version,
    bool transactional) {
  if (const ConsumerGroup* g = consumers_.Find(group)) {
    return consumers_.ValidateCommit(*g, member_id, generation, version, transactional);
  }
  if (!Exists(group)) {
    // A commit without a generation creates a "simple" group; a generation needs a group
    // that a member joined.
    if (generation < 0) return kafka::ErrorCode::kNone;
    return version >= kFirstGroupIdNotFoundVersion ? kafka::ErrorCode::kGroupIdNotFound
                                                   : kafka::ErrorCode::kIllegalGeneration;
  }
  ClassicGroup* g = membership_.Find(group);
  const bool empty = g == nullptr || g->state() == GroupState::kEmpty;
  // Without a generation, from the admin client or a consumer that assigns itself partitions:
  // only while no member could be committing the same partitions.
  if (generation < 0 && empty) return kafka::ErrorCode::kNone;
  if (generation >= 0 || !member_id.empty() || group_instance_id.has_value()) {
    if (g == nullptr) return kafka::ErrorCode::kUnknownMemberId;
    if (auto e = g->ValidateMember(member_id, group_instance_id); e != kafka::ErrorCode::kNone) {
      return e;
    }
    if (generation != g->generation()) return kafka::ErrorCode::kIllegalGeneration;
  } else if (!empty) {
    return kafka::ErrorCode::kUnknownMemberId;
  }
  // The member has its generation's JoinGroup answer but the leader has not assigned yet: it
  // will learn its partitions and commit again.
  if (g->state() == GroupState::kCompletingRebalance) {
    return kafka::ErrorCode::kRebalanceInProgress;
  }
  membership_.KeepAlive(*g, member_id);
  return kafka::ErrorCode::kNone;
}

kafka::ErrorCode GroupCoordinator::OffsetDeleteError(const std::string& group) const {
  if (consumers_.Find(group) != nullptr) return kafka::ErrorCode::kNone;
  const ClassicGroup* g = membership_.Find(group);
  if (g == nullptr || g->state() == GroupState::kEmpty) return kafka::ErrorCode::kNone;
  return g->protocol_type() == kConsumerProtocolType ? kafka::ErrorCode::kNone
                                                     : kafka::ErrorCode::kNonEmptyGroup;
}

bool GroupCoordinator::SubscribedTo(const std::string& group, const std::string& topic) const {
  if (const ConsumerGroup* g = consumers_.Find(group)) return g->IsSubscribedTo(topic);
  const ClassicGroup* g = membership_.Find(group);
  return g != nullptr && g->IsSubscribedTo(topic);
}

bool GroupCoordinator::MetadataFits(const std::optional<std::string>& metadata) const {
  if (!metadata.has_value()) return true;
  // Java's length is at most the UTF-8 byte count, so short metadata needs no decoding.
  if (metadata->size() <= static_cast<std::size_t>(config_.metadata_max_bytes)) return true;
  return JavaStringLength(*metadata) <= static_cast<std::size_t>(config_.metadata_max_bytes);
}

asio::awaitable<kafka::ErrorCode> GroupCoordinator::DeleteGroup(std::string group) {
  if (!Available(group)) co_return kafka::ErrorCode::kCoordinatorNotAvailable;
  if (!Exists(group)) co_return kafka::ErrorCode::kGroupIdNotFound;
  if (StateOf(group) != GroupState::kEmpty) co_return kafka::ErrorCode::kNonEmptyGroup;
  // Forgotten at once, as Kafka marks the group dead: a member joining meanwhile starts a
  // new group, whose records follow the tombstone.
  membership_.Forget(group);
  consumers_.Forget(group);
  FlushConsumerRecords();  // the write below waits for these too
  std::set<std::pair<std::string, std::int32_t>> keys;
  if (const GroupOffsets* offsets = offsets_->Find(group)) {
    for (const auto& [topic, partitions] : *offsets) {
      for (const auto& [partition, value] : partitions) keys.emplace(topic, partition);
    }
  }
  for (auto& key : offsets_->PendingKeys(group)) keys.insert(std::move(key));
  std::vector<OffsetChange> tombstones;
  for (const auto& [topic, partition] : keys) {
    tombstones.push_back(OffsetChange{topic, partition, std::nullopt});
  }
  const Status s = co_await offsets_->Write(group, std::move(tombstones), true);
  if (!s.ok()) {
    spdlog::warn("deleting group {} failed: {}", group, s.ToString());
    co_return WriteError(s);
  }
  spdlog::info("deleted group {} ({} offsets)", group, keys.size());
  co_return kafka::ErrorCode::kNone;
}

asio::awaitable<std::size_t> GroupCoordinator::DeleteTopicOffsets(std::string topic) {
  // Decided up front: the writes below change the map being walked.
  std::map<std::string, std::set<std::int32_t>> doomed;  // group → partitions
  for (const auto& [group, topics] : offsets_->groups()) {
    auto t = topics.find(topic);
    if (t == topics.end()) continue;
    for (const auto& [partition, value] : t->second) doomed[group].insert(partition);
  }
  // Commits on their way may be the first of a group: look at the pending writes too.
  for (std::int32_t p = 0; p < offsets_->partitions(); ++p) {
    for (const auto& [group, key] : offsets_->PendingKeysOfPartition(p)) {
      if (key.first == topic) doomed[group].insert(key.second);
    }
  }
  std::size_t removed = 0;
  for (const auto& [group, partitions] : doomed) {
    if (!Available(group)) continue;
    std::vector<OffsetChange> tombstones;
    for (std::int32_t partition : partitions) {
      tombstones.push_back(OffsetChange{topic, partition, std::nullopt});
    }
    const Status s = co_await offsets_->Write(group, std::move(tombstones));
    if (!s.ok()) {
      spdlog::warn("removing offsets of deleted topic {} from group {} failed: {}", topic, group,
                   s.ToString());
      continue;
    }
    removed += partitions.size();
  }
  if (removed > 0) {
    spdlog::info("removed {} committed offsets of deleted topic {}", removed, topic);
  }
  co_return removed;
}

asio::awaitable<std::size_t> GroupCoordinator::ExpireOffsets(std::int64_t now_ms) {
  // Decided up front: the writes below change the map being walked.
  struct Expiry {
    std::string group;
    std::vector<OffsetChange> tombstones;
    bool whole_group;
  };
  std::vector<Expiry> expiries;
  for (const auto& [group, topics] : offsets_->groups()) {
    if (!Available(group)) continue;
    const ConsumerGroup* consumer = consumers_.Find(group);
    const ClassicGroup* g = membership_.Find(group);
    // Kafka's rule: a group without a protocol type (simple commits only) ages its offsets
    // from their commit; an empty group from the time it became empty; a stable consumer
    // group only the offsets of topics it no longer subscribes to, from their commit; any
    // other group with members keeps them.
    const bool typed = g != nullptr && g->protocol_type().has_value();
    const bool empty = consumer != nullptr ? consumer->empty()
                                           : g == nullptr || g->state() == GroupState::kEmpty;
    if (typed && !empty &&
        !(g->state() == GroupState::kStable && g->protocol_type() == kConsumerProtocolType &&
          g->subscribed_topics().has_value())) {
      continue;
    }
    const std::int64_t empty_since =
        typed && empty && g->state_timestamp_ms() >= 0 ? g->state_timestamp_ms() : -1;
    const auto pending_keys = offsets_->PendingKeys(group);
    const std::set<std::pair<std::string, std::int32_t>> pending(pending_keys.begin(),
                                                                 pending_keys.end());
    Expiry e{group, {}, pending.empty() && empty};
    for (const auto& [topic, partitions] : topics) {
      if ((g != nullptr && g->IsSubscribedTo(topic)) ||
          (consumer != nullptr && consumer->IsSubscribedTo(topic))) {
        e.whole_group = false;
        continue;
      }
      for (const auto& [partition, value] : partitions) {
        const std::int64_t base = empty_since >= 0 ? empty_since : value.commit_timestamp_ms;
        const bool expired = value.expire_timestamp_ms >= 0
                                 ? now_ms >= value.expire_timestamp_ms
                                 : now_ms - base >= config_.offsets_retention_ms;
        // A newer commit of the key is on its way: the tombstone would follow and delete it.
        if (expired && pending.count({topic, partition}) == 0) {
          e.tombstones.push_back(OffsetChange{topic, partition, std::nullopt});
        } else {
          e.whole_group = false;
        }
      }
    }
    if (!e.tombstones.empty()) expiries.push_back(std::move(e));
  }
  std::size_t removed = 0;
  for (auto& e : expiries) {
    const std::size_t count = e.tombstones.size();
    const Status s = co_await offsets_->Write(e.group, std::move(e.tombstones), e.whole_group);
    if (!s.ok()) {
      spdlog::warn("expiring offsets of group {} failed: {}", e.group, s.ToString());
      continue;
    }
    removed += count;
    if (e.whole_group && StateOf(e.group) == GroupState::kEmpty) {
      membership_.Forget(e.group);
      consumers_.Forget(e.group);
      FlushConsumerRecords();
    }
    spdlog::info("expired {} offsets of group {}{}", count, e.group,
                 e.whole_group ? "; the group is gone" : "");
  }
  co_await DeleteEmptyGroups();
  co_return removed;
}

asio::awaitable<void> GroupCoordinator::DeleteEmptyGroups() {
  // A consumer-protocol group has no record of its own: without members and offsets it is gone.
  std::vector<std::string> idle;
  for (const auto& [group, g] : consumers_.groups()) {
    if (g->empty() && offsets_->Find(group) == nullptr && offsets_->PendingKeys(group).empty()) {
      idle.push_back(group);
    }
  }
  for (const auto& group : idle) consumers_.Forget(group);
  FlushConsumerRecords();
  std::vector<std::string> doomed;
  for (const auto& [group, g] : membership_.groups()) {
    // A group a member is about to join (it was given an id) is kept.
    if (g->state() == GroupState::kEmpty && g->pending_join().empty() &&
        offsets_->Find(group) == nullptr && offsets_->PendingKeys(group).empty() &&
        Available(group)) {
      doomed.push_back(group);
    }
  }
  for (const auto& group : doomed) {
    const Status s = co_await offsets_->Write(group, {}, true);
    if (!s.ok()) {
      spdlog::warn("deleting empty group {} failed: {}", group, s.ToString());
      continue;
    }
    const ClassicGroup* g = membership_.Find(group);
    if (g != nullptr && g->state() == GroupState::kEmpty) {
      membership_.Forget(group);
      spdlog::info("group {} is empty and has no offsets; it is gone", group);
    }
  }
}

asio::awaitable<void> GroupCoordinator::ExpiryLoop() {
  while (!stopped_) {
    expiry_timer_.expires_after(std::chrono::milliseconds(config_.retention_check_interval_ms));
    std::error_code ec;
    co_await expiry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_) co_return;
    co_await ExpireOffsets(storage::SystemClockMs());
  }
}

}  // namespace tern::broker::group
