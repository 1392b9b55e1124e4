// GroupMembership: the classic group protocol as Kafka 4.x serves it — JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup over the ClassicGroups it owns (classic_group.h), with their timers:
//   - a member's session: a member that neither heartbeats nor commits within its session
//     timeout is removed and the group rebalances (members parked in JoinGroup or SyncGroup
//     count as alive, except new members, which get group.new.member.join.timeout, 5 minutes);
//   - the join phase of a rebalance ends when every member has rejoined, or after the largest
//     rebalance timeout, when dynamic members that did not rejoin are removed; the first
//     rebalance of an empty group waits group.initial.rebalance.delay.ms, again while members
//     keep arriving, up to the rebalance timeout;
//   - the members of a new generation must send SyncGroup within the rebalance timeout;
//   - a member given an id with MEMBER_ID_REQUIRED must join with it within its session timeout.
// A parked JoinGroup or SyncGroup is a coroutine waiting on a Waiter that the state machine
// completes. A completed rebalance (the leader's assignment, or a group left empty) and a
// static member's replacement are written to __consumer_offsets as the group's GroupMetadata
// record before anyone is told; Load rebuilds groups from those records at start-up.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/group/classic_group.h"
#include "broker/group/offset_store.h"

namespace tern::broker::group {

struct MembershipConfig {
  std::int32_t initial_rebalance_delay_ms = 3000;  // group.initial.rebalance.delay.ms
  std::int32_t min_session_timeout_ms = 6000;      // group.min.session.timeout.ms
  std::int32_t max_session_timeout_ms = 1800000;   // group.max.session.timeout.ms
  std::int32_t max_size = INT32_MAX;               // group.max.size
  std::int32_t new_member_join_timeout_ms = 300000;
};

struct JoinRequest {
  std::string group_id;
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;  // "/address", as Kafka reports it
  std::int32_t session_timeout_ms = 0;
  std::int32_t rebalance_timeout_ms = 0;  // v0 requests: the session timeout
  std::string protocol_type;
  std::vector<JoinProtocol> protocols;
  std::string reason;
  std::int16_t version = 0;
};

struct SyncRequest {
  std::string group_id;
  std::int32_t generation = 0;
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<std::pair<std::string, std::string>> assignments;  // member id, assignment
};

struct LeavingMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string reason;
};

struct LeaveResult {
  struct Member {
    std::string member_id;
    std::optional<std::string> instance_id;
    kafka::ErrorCode error = kafka::ErrorCode::kNone;
  };
  kafka::ErrorCode error = kafka::ErrorCode::kNone;  // the whole request
  std::vector<Member> members;
};

class GroupMembership {
 public:
  GroupMembership(OffsetStore& store, const MembershipConfig& config,
                  asio::any_io_executor executor);
  GroupMembership(const GroupMembership&) = delete;
  GroupMembership& operator=(const GroupMembership&) = delete;

  // Rebuilds groups from their GroupMetadata records: members come back (the group Stable) and
  // their session timers start, so those that do not heartbeat in time are removed.
  void Load(const std::map<std::string, GroupMetadataValue>& records);

  // Each answers what Kafka answers; JoinGroup and SyncGroup may wait for the rebalance.
  asio::awaitable<JoinResult> Join(JoinRequest request);
  asio::awaitable<SyncResult> Sync(SyncRequest request);
  kafka::ErrorCode Heartbeat(const std::string& group_id, std::int32_t generation,
                             const std::string& member_id,
                             const std::optional<std::string>& instance_id);
  LeaveResult Leave(const std::string& group_id, const std::vector<LeavingMember>& members);

  // The group's membership; null when no member ever joined it (or it was deleted).
  ClassicGroup* Find(const std::string& group_id) const;
  const std::map<std::string, std::unique_ptr<ClassicGroup>>& groups() const { return groups_; }
  // A member's offset commit keeps its session alive while the group is Stable or
  // PreparingRebalance, as Kafka's does.
  void KeepAlive(ClassicGroup& group, const std::string& member_id);
  // Forgets a group that is being deleted. REQUIRES: its state is Empty.
  void Forget(const std::string& group_id);
  // The online upgrade: forgets a group with members, which carry on in a consumer group;
  // its parked JoinGroup and SyncGroup requests are answered REBALANCE_IN_PROGRESS, so they
  // join that group.
  void TakeOver(const std::string& group_id);
  // The online downgrade: a group of `value`'s members, Stable at its generation, each member
  // with the protocols it joined with (`protocols`, by member id). Its record is written now;
  // then it rebalances, so that the members join again and their leader assigns.
  void Adopt(const std::string& group_id, const GroupMetadataValue& value,
             const std::map<std::string, std::vector<JoinProtocol>>& protocols);

 private:
  void StartJoin(const JoinRequest& request, const std::shared_ptr<Waiter<JoinResult>>& waiter);
  void StartSync(const SyncRequest& request, const std::shared_ptr<Waiter<SyncResult>>& waiter);
  bool AcceptJoiningMember(const ClassicGroup& group, const std::string& member_id) const;
  void JoinNewMember(ClassicGroup& group, const JoinRequest& request,
                     const std::shared_ptr<Waiter<JoinResult>>& waiter);
  void JoinExistingMember(ClassicGroup& group, const JoinRequest& request,
                          const std::shared_ptr<Waiter<JoinResult>>& waiter);
  void AddMemberThenRebalance(ClassicGroup& group, const JoinRequest& request,
                              const std::string& member_id,
                              const std::shared_ptr<Waiter<JoinResult>>& waiter);
  void UpdateMember(Member& member, std::vector<JoinProtocol> protocols,
                    std::int32_t rebalance_timeout_ms, std::int32_t session_timeout_ms,
                    std::shared_ptr<Waiter<JoinResult>> waiter);
  void ReplaceStaticMember(ClassicGroup& group, const JoinRequest& request,
                           const std::string& old_id, const std::string& new_id,
                           const std::shared_ptr<Waiter<JoinResult>>& waiter);
  // The current generation's answer to `member`.
  JoinResult CurrentGeneration(const ClassicGroup& group, const Member& member,
                               bool with_members) const;

  void MaybePrepareRebalanceOrCompleteJoin(ClassicGroup& group, const std::string& reason);
  void PrepareRebalance(ClassicGroup& group, const std::string& reason);
  void MaybeCompleteJoinPhase(ClassicGroup& group);
  void MaybeCompleteJoinElseSchedule(ClassicGroup& group);
  void CompleteJoin(ClassicGroup& group);
  void InitialDelayPassed(ClassicGroup& group, std::int32_t delay_ms, std::int32_t remaining_ms);

  // Answers the member's parked requests with UNKNOWN_MEMBER_ID and removes it.
  void DropMember(ClassicGroup& group, const std::string& member_id);
  void RemoveMemberAndUpdate(ClassicGroup& group, const std::string& member_id,
                             const std::string& reason);
  void RemovePendingSync(ClassicGroup& group, const std::string& member_id);
  void ResetAndPropagate(ClassicGroup& group, kafka::ErrorCode error);
  void SetAndPropagate(ClassicGroup& group, const std::map<std::string, std::string>& assignments);
  void Propagate(ClassicGroup& group, kafka::ErrorCode error);

  void ScheduleHeartbeat(ClassicGroup& group, Member& member, std::int32_t timeout_ms);
  void HeartbeatExpired(const std::string& group_id, const std::string& member_id,
                        std::uint64_t token);
  void PendingMemberExpired(const std::string& group_id, const std::string& member_id);
  void ScheduleJoinTimer(ClassicGroup& group, std::int32_t delay_ms,
                         std::function<void(ClassicGroup&)> then);
  void CancelJoinTimer(ClassicGroup& group);
  void SchedulePendingSync(ClassicGroup& group);
  void CancelPendingSync(ClassicGroup& group);
  void PendingSyncExpired(const std::string& group_id, std::int32_t generation,
                          std::uint64_t token);

  // Appends the group's record now and calls `done` with the outcome once it is durable.
  void Persist(ClassicGroup& group, std::function<void(Status)> done,
               const std::map<std::string, std::string>* assignments = nullptr);
  asio::awaitable<void> AwaitPersisted(std::string group_id, Status appended,
                                       std::function<void(Status)> done);

  OffsetStore& store_;
  const MembershipConfig config_;
  const asio::any_io_executor executor_;
  std::map<std::string, std::unique_ptr<ClassicGroup>> groups_;
  // Timer handlers and writes in flight hold it weakly, and do nothing once this is gone.
  const std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tern::broker::group
