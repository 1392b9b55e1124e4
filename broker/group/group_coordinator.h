// GroupCoordinator: this node's coordinator for every consumer group (a single-node cluster
// coordinates all of them). It owns the committed offsets (offset_store.h) and decides what the
// group APIs may do with them; group membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup)
// is not served yet, so every group is a classic group without members:
//   - a group exists while it has committed offsets, in state "Empty"; otherwise it is "Dead";
//   - commits are accepted as Kafka accepts them from a member-less group: generation -1 and
//     no member id (the admin client, simple and assign-mode consumers);
//   - offsets of an empty group expire offsets.retention.minutes after their commit (or at the
//     expiry time a v2-4 commit asked for), checked every offsets.retention.check.interval.ms,
//     and a group whose offsets have all expired is gone;
//   - the offsets of a deleted topic are removed from every group.
// Membership will extend this class: the members and generation of each group, the state
// machine, and with them NON_EMPTY_GROUP and the member checks of commits.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/group/offset_store.h"
#include "config/broker_config.h"
#include "kafka/error_code.h"

namespace tern::broker::group {

struct GroupCoordinatorConfig {
  std::int64_t offsets_retention_ms = 7LL * 24 * 60 * 60 * 1000;   // offsets.retention.minutes
  std::int64_t retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  std::int32_t metadata_max_bytes = 4096;               // offset.metadata.max.bytes
};

// Kafka's group states, as ListGroups and DescribeGroups name them.
enum class GroupState { kEmpty, kDead };
std::string_view GroupStateName(GroupState state);

// What ListGroups and DescribeGroups report for the groups served now.
inline constexpr std::string_view kConsumerProtocolType = "consumer";
inline constexpr std::string_view kClassicGroupType = "classic";

class GroupCoordinator {
 public:
  GroupCoordinator(std::unique_ptr<OffsetStore> offsets, const GroupCoordinatorConfig& config,
                   asio::any_io_executor executor);
  // Opens the offset store (creating __consumer_offsets, loading it) with the broker's
  // `offsets` settings and fsync policy; completions and the expiry timer run on `executor`,
  // and `notifier` wakes fetches of __consumer_offsets when offsets are written.
  static Result<std::unique_ptr<GroupCoordinator>> Open(const BrokerConfig& config,
                                                        Topics& topics,
                                                        GroupCommit& group_commit,
                                                        DataNotifier& notifier,
                                                        asio::any_io_executor executor);
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Starts the periodic expiry of offsets on the executor. The coordinator must then outlive
  // the executor's running (the broker destroys it after the io_context has stopped).
  void Start();
  // Cancels it (the broker is stopping).
  void Stop();

  OffsetStore& offsets() { return *offsets_; }
  const OffsetStore& offsets() const { return *offsets_; }
  const GroupCoordinatorConfig& config() const { return config_; }

  // False when the group's __consumer_offsets partition is offline (COORDINATOR_NOT_AVAILABLE).
  bool Available(std::string_view group) const { return offsets_->Available(group); }
  // True while the group has offsets, visible or being written.
  bool Exists(const std::string& group) const;
  GroupState StateOf(const std::string& group) const;
  // Every group that exists, by name.
  std::vector<std::string> Groups() const;

  // Whether an OffsetCommit of API version `version` with these identifiers may commit for the
  // group, as Kafka decides for a classic group without members: NONE, UNKNOWN_MEMBER_ID (a
  // member or generation is named but the group has no members), ILLEGAL_GENERATION or (v9+)
  // GROUP_ID_NOT_FOUND (a generation for a group that does not exist).
  kafka::ErrorCode ValidateOffsetCommit(const std::string& group, std::int32_t generation,
                                        const std::string& member_id,
                                        const std::optional<std::string>& group_instance_id,
                                        std::int16_t version) const;

  // Whether metadata of this size may be committed (offset.metadata.max.bytes, counted in
  // UTF-16 units as Kafka counts a Java string).
  bool MetadataFits(const std::optional<std::string>& metadata) const;

  // Removes every offset of the group with tombstones: NONE, GROUP_ID_NOT_FOUND, or the error
  // of a failed write.
  asio::awaitable<kafka::ErrorCode> DeleteGroup(std::string group);

  // Removes every group's offsets of a deleted topic, as Kafka does when a topic is deleted;
  // returns how many. Failures are logged (the offsets then linger until they expire).
  asio::awaitable<std::size_t> DeleteTopicOffsets(std::string topic);

  // One expiry pass at `now_ms`; returns how many offsets were removed.
  asio::awaitable<std::size_t> ExpireOffsets(std::int64_t now_ms);

 private:
  asio::awaitable<void> ExpiryLoop();

  std::unique_ptr<OffsetStore> offsets_;
  const GroupCoordinatorConfig config_;
  asio::steady_timer expiry_timer_;
  bool stopped_ = false;
};

// The error a group API answers when writing to __consumer_offsets failed: clients retry
// COORDINATOR_NOT_AVAILABLE (the partition is offline, or the append or fsync failed), and
// INVALID_COMMIT_OFFSET_SIZE when the records exceed max.message.bytes.
kafka::ErrorCode WriteError(const Status& status);

}  // namespace tern::broker::group
