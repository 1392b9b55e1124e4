// ConsumerMembership: the consumer rebalance protocol of KIP-848 — ConsumerGroupHeartbeat over
// the ConsumerGroups it owns (consumer_group.h) — as Kafka 4.x serves it:
//   - member epoch 0 joins (or rejoins after losing its partitions) with its subscription (topic
//     names, or a regular expression matched against the topics' names) and a rebalance
//     timeout; v0 members get an id, v1 members bring their own;
//   - later heartbeats carry the member's epoch (FENCED_MEMBER_EPOCH when it is not the
//     member's, except the previous one from a member whose answer was lost) and, when it
//     changed, the partitions it owns; each is answered with the member's epoch and, when it
//     changed (or the request was a full one), its assignment;
//   - epoch -1 leaves; a static member (instance id) leaves for now with -2 and keeps its
//     partitions until its session ends, and a member joining with its instance id takes its
//     place (UNRELEASED_INSTANCE_ID while the old one is still active);
//   - a member that sends no heartbeat within group.consumer.session.timeout.ms, or does not
//     revoke within its rebalance timeout, is removed and the group rebalances.
// Every change is also a record of the group in __consumer_offsets (consumer_group_records.h),
// in Kafka's formats and order: a member's metadata, the group epoch with the members' new
// targets and the target epoch, a member's current assignment, tombstones for a member that
// left and for a group that is gone. They collect in an outbox that the owner appends
// (TakeRecords); Load rebuilds the groups from them at start-up, members and epochs included,
// with each member's session starting again.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/cluster/topics.h"
#include "broker/group/consumer_group.h"
#include "broker/group/consumer_protocol.h"
#include "broker/group/group_membership.h"
#include "kafka/error_code.h"

namespace tern::broker::group {

struct ConsumerProtocolConfig {
  std::int32_t session_timeout_ms = 45000;     // group.consumer.session.timeout.ms
  std::int32_t heartbeat_interval_ms = 5000;   // group.consumer.heartbeat.interval.ms
  std::int32_t max_size = INT32_MAX;           // group.consumer.max.size
  // group.consumer.migration.policy: whether groups with members move between the protocols.
  bool online_upgrade = true;
  bool online_downgrade = true;
  std::int32_t classic_max_size = INT32_MAX;   // group.max.size: a downgrade must fit it
};

struct ConsumerHeartbeatRequest {
  std::string group_id;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  std::optional<TopicPartitions> owned;  // null: unchanged since the last heartbeat
  std::string client_id;
  std::string client_host;
  std::int16_t version = 0;
};

// A record to append to __consumer_offsets for `group`.
struct GroupRecord {
  std::string group;
  std::string key;
  std::optional<std::string> value;  // null: a tombstone
};

struct ConsumerHeartbeatResult {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::string message;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int32_t heartbeat_interval_ms = 0;
  std::optional<TopicPartitions> assignment;  // null: unchanged
};

class ConsumerMembership {
 public:
  ConsumerMembership(const Topics& topics, const ConsumerProtocolConfig& config,
                     asio::any_io_executor executor);
  ConsumerMembership(const ConsumerMembership&) = delete;
  ConsumerMembership& operator=(const ConsumerMembership&) = delete;

  // Rebuilds the groups from their records (by group, by key; the latest value of each key).
  // Returns how many members came back.
  std::size_t Load(const std::map<std::string, std::map<std::string, std::string>>& records);

  // Starts the check of sessions and revocation deadlines, calling `flush` after removals so
  // that their records are appended; Stop cancels it.
  void Start(std::function<void()> flush);
  void Stop();

  // The records of every change since the last call, in order.
  std::vector<GroupRecord> TakeRecords();

  ConsumerHeartbeatResult Heartbeat(const ConsumerHeartbeatRequest& request);

  // A member of the classic protocol in a consumer group with members (consumer_classic.cc),
  // as Kafka serves one after an online upgrade: the broker assigns, so every JoinGroup is
  // answered at once, with the member's epoch as its generation and no leader; SyncGroup
  // answers the partitions it holds now; Heartbeat answers REBALANCE_IN_PROGRESS while it has
  // partitions to give up or to take, or the group's epoch is ahead of its own, so that it
  // joins again. Removals may leave a group of classic members only (TakeDowngradable).
  JoinResult ClassicJoin(const JoinRequest& request);
  SyncResult ClassicSync(const SyncRequest& request);
  kafka::ErrorCode ClassicHeartbeat(const std::string& group_id, std::int32_t generation,
                                    const std::string& member_id,
                                    const std::optional<std::string>& instance_id);
  LeaveResult ClassicLeave(const std::string& group_id, const std::vector<LeavingMember>& members);

  // The online upgrade: a consumer group made of a classic group's members, each with the
  // epoch `generation` and the partitions it was assigned (which are also its target), written
  // as records. REQUIRES: no consumer group of that id.
  ConsumerGroup& Adopt(const std::string& group_id, std::int32_t generation,
                       std::vector<ConsumerMember> members);
  // Writes a tombstone of the classic group's record (GroupMetadata) of `group_id`: the group
  // is one of the consumer protocol from now on.
  void TombstoneClassicRecord(const std::string& group_id);
  // What the heartbeat of a member joining a classic group of `members` members would be
  // refused with, checked before the group moves to the consumer protocol for it (nullopt:
  // nothing); `takes_a_place`: its member id is a member already; `instance_taken`: its
  // instance id is a live member's (UNRELEASED_INSTANCE_ID).
  std::optional<ConsumerHeartbeatResult> UpgradeJoinError(const ConsumerHeartbeatRequest& r,
                                                          std::size_t members, bool takes_a_place,
                                                          bool instance_taken) const;
  // Groups that members left and whose members all speak the classic protocol now: the
  // coordinator may turn them back into classic groups (the online downgrade).
  std::set<std::string> TakeDowngradable();

  ConsumerGroup* Find(const std::string& group_id) const;
  const std::map<std::string, std::unique_ptr<ConsumerGroup>>& groups() const { return groups_; }
  // Forgets a group that has no members (it is deleted, or becomes a classic group).
  void Forget(const std::string& group_id);

  // Whether a member may commit (OffsetCommit v9+, TxnOffsetCommit) or fetch offsets with this
  // member id and epoch: UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH (not its epoch; ILLEGAL_GENERATION
  // for a transactional commit), UNSUPPORTED_VERSION (OffsetCommit before v9); an epoch of -1
  // without a member passes while the group is empty (admin and assign-mode clients).
  kafka::ErrorCode ValidateCommit(const ConsumerGroup& group, const std::string& member_id,
                                  std::int32_t member_epoch, std::int16_t version,
                                  bool transactional) const;
  kafka::ErrorCode ValidateFetch(const ConsumerGroup& group,
                                 const std::optional<std::string>& member_id,
                                 std::int32_t member_epoch) const;

  // Removes the members whose session or revocation deadline passed by `now_ms`.
  void ExpireMembers(std::int64_t now_ms);
  // Bumps the group epoch and writes it with the targets that changed.
  void Rebalance(ConsumerGroup& group);

 private:
  ConsumerHeartbeatResult Leave(const ConsumerHeartbeatRequest& request);
  // The request's own faults (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION);
  // sets `regex` to the compiled expression.
  std::optional<ConsumerHeartbeatResult> CheckRequest(const ConsumerHeartbeatRequest& r,
                                                      std::shared_ptr<const std::regex>* regex) const;
  // The member's topics from its subscription, and the group's topics' metadata; true when
  // either changed (the group must rebalance).
  bool Resolve(ConsumerGroup& group, ConsumerMember& member) const;
  bool RefreshTopics(ConsumerGroup& group) const;
  // The topics the member's subscription names (that exist) or its expression matches.
  std::set<std::string> Subscription(const ConsumerMember& member) const;
  // Whether the targets hold exactly the partitions of the subscribed topics.
  bool TargetsCoverTopics(const ConsumerGroup& group) const;
  asio::awaitable<void> ExpiryLoop();
  // Writes the member's metadata / current assignment when it changed since last written.
  void RecordMetadata(const ConsumerGroup& group, ConsumerMember& member);
  void RecordAssignment(const ConsumerGroup& group, ConsumerMember& member);
  // A static member's new incarnation `member` takes the place of `old_id` (ConsumerGroup::
  // Replace), with tombstones of the old member's records and the new one's target.
  ConsumerMember& ReplaceStatic(ConsumerGroup& group, const std::string& old_id,
                                ConsumerMember member);
  // Removes the member with tombstones of its records (current assignment, target, metadata).
  void RemoveMember(ConsumerGroup& group, const std::string& member_id);
  // After removals: rebalances the group, and notes it when only classic members are left.
  void AfterRemovals(ConsumerGroup& group);
  // The member's session timeout: its own for a classic member, else the group protocol's.
  std::int32_t SessionTimeoutOf(const ConsumerMember& member) const;
  // A classic member's request names a member of the group with this generation:
  // FENCED_INSTANCE_ID (the instance id is another member's), UNKNOWN_MEMBER_ID,
  // ILLEGAL_GENERATION or NONE.
  kafka::ErrorCode CheckClassicMember(const ConsumerGroup* group, const std::string& member_id,
                                      const ConsumerMember* member,
                                      const std::optional<std::string>& instance_id,
                                      std::int32_t generation) const;
  // Whether the classic member must join again (REBALANCE_IN_PROGRESS); starts its deadline.
  bool MustRejoin(const ConsumerGroup& group, ConsumerMember& member, std::int64_t now_ms) const;
  void Emit(const std::string& group, std::string key, std::optional<std::string> value);

  const Topics& topics_;
  const ConsumerProtocolConfig config_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  std::function<void()> flush_;
  std::map<std::string, std::unique_ptr<ConsumerGroup>> groups_;
  std::vector<GroupRecord> outbox_;
  std::set<std::string> downgradable_;
};

// Partitions by topic name, from partitions by topic id, and back; topics that do not exist
// are left out.
NamedPartitions ToTopicNames(const Topics& topics, const TopicPartitions& partitions);
TopicPartitions ToTopicIds(const Topics& topics, const NamedPartitions& partitions);

// Steady-clock milliseconds, the clock of the members' deadlines.
std::int64_t SteadyNowMs();

}  // namespace tern::broker::group
