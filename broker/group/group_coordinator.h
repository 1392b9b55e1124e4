// GroupCoordinator: this node's coordinator for every consumer group (a single-node cluster
// coordinates all of them). It owns the committed offsets (offset_store.h) and the classic
// groups' membership (group_membership.h), and decides what the group APIs may do with them:
//   - a group exists while it has members, committed offsets, or the record of an earlier
//     generation; its state is its membership's, "Empty" for a group with offsets only, and
//     "Dead" when it does not exist;
//   - commits are accepted as Kafka accepts them: generation -1 and no member while the group
//     is empty (the admin client, simple and assign-mode consumers), otherwise from a member
//     of the current generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID,
//     REBALANCE_IN_PROGRESS while the leader assigns);
//   - offsets expire offsets.retention.minutes after their commit (or at the expiry time a
//     v2-4 commit asked for); those of an empty group with members before, that long after it
//     became empty; those of a group with members never, except the topics a stable consumer
//     group no longer subscribes to. Checked every offsets.retention.check.interval.ms; an
//     empty group left without offsets is gone;
//   - a group with members cannot be deleted (NON_EMPTY_GROUP);
//   - the offsets of a deleted topic are removed from every group.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/cluster/topics.h"
#include "broker/group/classic_group.h"
#include "broker/group/consumer_membership.h"
#include "broker/group/group_membership.h"
#include "broker/group/offset_store.h"
#include "config/broker_config.h"
#include "kafka/error_code.h"

namespace tern::broker::group {

struct GroupCoordinatorConfig {
  std::int64_t offsets_retention_ms = 7LL * 24 * 60 * 60 * 1000;   // offsets.retention.minutes
  std::int64_t retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  std::int32_t metadata_max_bytes = 4096;               // offset.metadata.max.bytes
  MembershipConfig membership;
  ConsumerProtocolConfig consumer;
};

// What ListGroups reports as every group's type.
inline constexpr std::string_view kClassicGroupType = "classic";

class GroupCoordinator {
 public:
  // Rebuilds the groups' membership from the GroupMetadata records the store loaded.
  // `topics` resolves the subscriptions of consumer-protocol groups.
  GroupCoordinator(std::unique_ptr<OffsetStore> offsets, const GroupCoordinatorConfig& config,
                   const Topics& topics, asio::any_io_executor executor);
  // Opens the offset store (creating __consumer_offsets, loading it) with the broker's
  // `offsets` and `group` settings and fsync policy; completions and timers run on
  // `executor`, and `notifier` wakes fetches of __consumer_offsets when records are written.
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
  GroupMembership& membership() { return membership_; }
  const GroupMembership& membership() const { return membership_; }
  ConsumerMembership& consumers() { return consumers_; }
  const ConsumerMembership& consumers() const { return consumers_; }
  const GroupCoordinatorConfig& config() const { return config_; }

  // False when the group's __consumer_offsets partition is offline (COORDINATOR_NOT_AVAILABLE).
  bool Available(std::string_view group) const { return offsets_->Available(group); }
  // True while the group has membership or offsets (visible or being written).
  bool Exists(const std::string& group) const;
  GroupState StateOf(const std::string& group) const;
  // The protocol type ListGroups and DescribeGroups report: the members', else "consumer".
  std::string ProtocolTypeOf(const std::string& group) const;
  // "consumer" for a group of the consumer rebalance protocol (KIP-848), else "classic".
  std::string_view TypeOf(const std::string& group) const;
  // The state ListGroups reports: a classic group's, or a consumer group's (Empty,
  // Reconciling, Stable).
  std::string_view StateNameOf(const std::string& group) const;

  // ConsumerGroupHeartbeat: COORDINATOR_NOT_AVAILABLE while the group's partition is offline.
  // An empty classic group becomes a consumer group when a member joins it; one with members
  // too, where the migration policy allows the upgrade (group_migration.cc), else
  // GROUP_ID_NOT_FOUND.
  // The group's records the heartbeat changed are durable before it is answered
  // (COORDINATOR_NOT_AVAILABLE when they could not be written).
  asio::awaitable<ConsumerHeartbeatResult> ConsumerHeartbeat(ConsumerHeartbeatRequest request);
  // The classic protocol's requests (group_migration.cc): to a classic group, or to a consumer
  // group with members, which serves them as Kafka does after an online upgrade
  // (ConsumerMembership::ClassicJoin and the others). An empty consumer group is given up to
  // the classic protocol on JoinGroup. The group's records a request changed are durable
  // before it is answered.
  asio::awaitable<JoinResult> Join(JoinRequest request);
  asio::awaitable<SyncResult> Sync(SyncRequest request);
  asio::awaitable<kafka::ErrorCode> Heartbeat(std::string group_id, std::int32_t generation,
                                              std::string member_id,
                                              std::optional<std::string> instance_id);
  asio::awaitable<LeaveResult> Leave(std::string group_id, std::vector<LeavingMember> members);
  // Every group that exists, by name.
  std::vector<std::string> Groups() const;

  // Whether an OffsetCommit of API version `version` with these identifiers may commit for the
  // group, as Kafka decides for a classic group: NONE; UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID or
  // ILLEGAL_GENERATION (the member is not of the current generation; a simple commit to a
  // group with members is UNKNOWN_MEMBER_ID), REBALANCE_IN_PROGRESS (CompletingRebalance);
  // ILLEGAL_GENERATION or (v9+) GROUP_ID_NOT_FOUND for a generation of a group that does not
  // exist. An accepted commit of a member keeps its session alive.
  // For a consumer-protocol group, `generation` is the member epoch (consumer_membership.h).
  kafka::ErrorCode ValidateOffsetCommit(const std::string& group, std::int32_t generation,
                                        const std::string& member_id,
                                        const std::optional<std::string>& group_instance_id,
                                        std::int16_t version, bool transactional = false);

  // Whether OffsetDelete may remove the group's offsets of `topic`: NON_EMPTY_GROUP for a group
  // with members of another protocol type than "consumer", GROUP_SUBSCRIBED_TO_TOPIC for a
  // topic its members subscribe to, otherwise NONE.
  kafka::ErrorCode OffsetDeleteError(const std::string& group) const;
  bool SubscribedTo(const std::string& group, const std::string& topic) const;

  // Whether metadata of this size may be committed (offset.metadata.max.bytes, counted in
  // UTF-16 units as Kafka counts a Java string).
  bool MetadataFits(const std::optional<std::string>& metadata) const;

  // Removes every offset of the group with tombstones, and its group metadata: NONE,
  // GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (it has members), or the error of a failed write.
  asio::awaitable<kafka::ErrorCode> DeleteGroup(std::string group);

  // Removes every group's offsets of a deleted topic, as Kafka does when a topic is deleted;
  // returns how many. Failures are logged (the offsets then linger until they expire).
  asio::awaitable<std::size_t> DeleteTopicOffsets(std::string topic);

  // One expiry pass at `now_ms`; returns how many offsets were removed. Empty groups left
  // without offsets are deleted too.
  asio::awaitable<std::size_t> ExpireOffsets(std::int64_t now_ms);

 private:
  asio::awaitable<void> ExpiryLoop();
  // ConsumerHeartbeat's answer, before its records are written.
  ConsumerHeartbeatResult Decide(const ConsumerHeartbeatRequest& request);
  // The online upgrade of a classic group with members, for a member joining it with the
  // consumer protocol: nullopt once it is a consumer group, else the refusal
  // (GROUP_ID_NOT_FOUND with Kafka's reason).
  std::optional<ConsumerHeartbeatResult> Upgrade(const ClassicGroup& group);
  // The online downgrade of every consumer group left with classic members only.
  void DowngradeGroups();
  void Downgrade(const ConsumerGroup& group);
  // JoinGroup to a consumer group with members; `classic_group` is set instead when the
  // request is for the classic group membership.
  JoinResult ClassicJoin(const JoinRequest& request, bool& classic_group);
  // Appends the consumer-protocol records and waits until the group's are durable.
  asio::awaitable<Status> WriteConsumerRecords(const std::string& group);
  // Removes empty groups that have no offsets left (a tombstone of their group metadata).
  asio::awaitable<void> DeleteEmptyGroups();
  // Appends the records the consumer-protocol groups changed; returns the groups appended to
  // with the outcome of each.
  std::map<std::string, Status> FlushConsumerRecords();

  std::unique_ptr<OffsetStore> offsets_;
  const GroupCoordinatorConfig config_;
  const Topics& topics_;
  // What a downgrade appended (it must go before the classic group's record), handed to the
  // next FlushConsumerRecords' caller, which waits for it.
  std::map<std::string, Status> downgrade_appends_;
  GroupMembership membership_;
  ConsumerMembership consumers_;
  asio::steady_timer expiry_timer_;
  bool stopped_ = false;
};

// The error a group API answers when writing to __consumer_offsets failed: clients retry
// COORDINATOR_NOT_AVAILABLE (the partition is offline, or the append or fsync failed), and
// INVALID_COMMIT_OFFSET_SIZE when the records exceed max.message.bytes.
kafka::ErrorCode WriteError(const Status& status);

}  // namespace tern::broker::group
