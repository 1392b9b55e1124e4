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

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty: return "Empty";
    case GroupState::kDead: return "Dead";
  }
  return "Dead";
}

kafka::ErrorCode WriteError(const Status& status) {
  if (status.code() == Status::Code::kTooLarge) return kafka::ErrorCode::kInvalidCommitOffsetSize;
  return kafka::ErrorCode::kCoordinatorNotAvailable;
}

GroupCoordinator::GroupCoordinator(std::unique_ptr<OffsetStore> offsets,
                                   const GroupCoordinatorConfig& config,
                                   asio::any_io_executor executor)
    : offsets_(std::move(offsets)), config_(config), expiry_timer_(std::move(executor)) {}

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
  return std::make_unique<GroupCoordinator>(std::move(store).value(), c, std::move(executor));
}

void GroupCoordinator::Start() {
  asio::co_spawn(expiry_timer_.get_executor(), ExpiryLoop(), asio::detached);
}

void GroupCoordinator::Stop() {
  stopped_ = true;
  expiry_timer_.cancel();
}

bool GroupCoordinator::Exists(const std::string& group) const {
  return offsets_->Find(group) != nullptr || !offsets_->PendingKeys(group).empty();
}

GroupState GroupCoordinator::StateOf(const std::string& group) const {
  return offsets_->Find(group) != nullptr ? GroupState::kEmpty : GroupState::kDead;
}

std::vector<std::string> GroupCoordinator::Groups() const {
  std::vector<std::string> out;
  for (const auto& [group, topics] : offsets_->groups()) out.push_back(group);
  return out;
}

kafka::ErrorCode GroupCoordinator::ValidateOffsetCommit(
    const std::string& group, std::int32_t generation,
    [[maybe_unused]] const std::string& member_id,
    [[maybe_unused]] const std::optional<std::string>& group_instance_id,
    std::int16_t version) const {
  if (!Exists(group)) {
    // A commit without a generation creates a "simple" group; a generation needs a group
    // that a member joined.
    if (generation < 0) return kafka::ErrorCode::kNone;
    return version >= kFirstGroupIdNotFoundVersion ? kafka::ErrorCode::kGroupIdNotFound
                                                   : kafka::ErrorCode::kIllegalGeneration;
  }
  // The group is empty: a commit without a generation is accepted whatever member or instance
  // id it carries; one with a generation names a member, and there is none.
  if (generation < 0) return kafka::ErrorCode::kNone;
  return kafka::ErrorCode::kUnknownMemberId;
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
    const auto pending_keys = offsets_->PendingKeys(group);
    const std::set<std::pair<std::string, std::int32_t>> pending(pending_keys.begin(),
                                                                 pending_keys.end());
    Expiry e{group, {}, pending.empty()};
    for (const auto& [topic, partitions] : topics) {
      for (const auto& [partition, value] : partitions) {
        const bool expired =
            value.expire_timestamp_ms >= 0
                ? now_ms >= value.expire_timestamp_ms
                : now_ms - value.commit_timestamp_ms >= config_.offsets_retention_ms;
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
    spdlog::info("expired {} offsets of group {}{}", count, e.group,
                 e.whole_group ? "; the group is gone" : "");
  }
  co_return removed;
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
