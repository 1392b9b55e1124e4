// GroupMembership: loading, SyncGroup, Heartbeat, LeaveGroup, the timers and the writes of the
// group's record. JoinGroup and the phases of a rebalance are in group_join.cc.
#include "broker/group/group_membership.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <chrono>

#include "broker/storage/log_config.h"

namespace tern::broker::group {
namespace {

using std::chrono::milliseconds;

// Kafka's answer when the group's record could not be written.
kafka::ErrorCode PersistError(const Status& s) {
  return s.code() == Status::Code::kTooLarge ? kafka::ErrorCode::kUnknownServerError
                                             : kafka::ErrorCode::kCoordinatorNotAvailable;
}

// A protocol type or name named in a SyncGroup (v5+) must be the group's.
bool Inconsistent(const std::optional<std::string>& requested,
                  const std::optional<std::string>& group) {
  return requested.has_value() && group.has_value() && *requested != *group;
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

}  // namespace

GroupMembership::GroupMembership(OffsetStore& store, const MembershipConfig& config,
                                 asio::any_io_executor executor)
    : store_(store), config_(config), executor_(std::move(executor)) {}

void GroupMembership::Load(const std::map<std::string, GroupMetadataValue>& records) {
  std::size_t members = 0;
  for (const auto& [id, value] : records) {
    auto group = ClassicGroup::FromRecord(id, value, executor_);
    ClassicGroup& g = *group;
    groups_[id] = std::move(group);
    for (const auto& m : g.members()) ScheduleHeartbeat(g, *m, m->session_timeout_ms);
    members += g.members().size();
    if (static_cast<std::int64_t>(g.members().size()) > config_.max_size) {
      PrepareRebalance(g, "the group is over group.max.size after loading");
    }
  }
  if (!records.empty()) {
    spdlog::info("loaded {} classic groups with {} members from their group metadata",
                 records.size(), members);
  }
}

ClassicGroup* GroupMembership::Find(const std::string& group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void GroupMembership::Forget(const std::string& group_id) { groups_.erase(group_id); }

void GroupMembership::TakeOver(const std::string& group_id) {
  ClassicGroup* group = Find(group_id);
  if (group == nullptr) return;
  for (const auto& m : group->members()) {
    if (m->join != nullptr) {
      m->join->Complete(JoinResult::Error(kafka::ErrorCode::kRebalanceInProgress, m->id));
    }
    if (m->sync != nullptr) {
      m->sync->Complete(SyncResult{kafka::ErrorCode::kRebalanceInProgress, {}, {}, {}});
    }
  }
  groups_.erase(group_id);  // its timers go with it; their handlers find no group
}

void GroupMembership::Adopt(const std::string& group_id, const GroupMetadataValue& value,
                            const std::map<std::string, std::vector<JoinProtocol>>& protocols) {
  auto owned = ClassicGroup::FromRecord(group_id, value, executor_);
  ClassicGroup& group = *owned;
  groups_[group_id] = std::move(owned);
  for (const auto& m : group.members()) {
    if (auto it = protocols.find(m->id); it != protocols.end() && !it->second.empty()) {
      m->protocols = it->second;
    }
    ScheduleHeartbeat(group, *m, m->session_timeout_ms);
  }
  Persist(group, [](Status) {});
  PrepareRebalance(group, "it moved back to the classic protocol");
}

void GroupMembership::KeepAlive(ClassicGroup& group, const std::string& member_id) {
  if (group.state() != GroupState::kStable &&
      group.state() != GroupState::kPreparingRebalance) {
    return;
  }
  if (Member* m = group.Find(member_id)) ScheduleHeartbeat(group, *m, m->session_timeout_ms);
}

// --- SyncGroup ----------------------------------------------------------------------------------

asio::awaitable<SyncResult> GroupMembership::Sync(SyncRequest request) {
  auto waiter = std::make_shared<Waiter<SyncResult>>(executor_);
  StartSync(request, waiter);
  co_return co_await Waiter<SyncResult>::Wait(waiter);
}

void GroupMembership::StartSync(const SyncRequest& request,
                                const std::shared_ptr<Waiter<SyncResult>>& waiter) {
  auto fail = [&](kafka::ErrorCode error) { waiter->Complete(SyncResult{error, {}, {}, {}}); };
  if (request.group_id.empty()) return fail(kafka::ErrorCode::kInvalidGroupId);
  if (!store_.Available(request.group_id)) {
    return fail(kafka::ErrorCode::kCoordinatorNotAvailable);
  }
  ClassicGroup* group = Find(request.group_id);
  if (group == nullptr || group->state() == GroupState::kEmpty) {
    return fail(kafka::ErrorCode::kUnknownMemberId);
  }
  if (auto e = group->ValidateMember(request.member_id, request.instance_id);
      e != kafka::ErrorCode::kNone) {
    return fail(e);
  }
  if (request.generation != group->generation()) {
    return fail(kafka::ErrorCode::kIllegalGeneration);
  }
  if (Inconsistent(request.protocol_type, group->protocol_type()) ||
      Inconsistent(request.protocol_name, group->protocol_name())) {
    return fail(kafka::ErrorCode::kInconsistentGroupProtocol);
  }
  Member& member = *group->Find(request.member_id);
  switch (group->state()) {
    case GroupState::kPreparingRebalance:
      return fail(kafka::ErrorCode::kRebalanceInProgress);
    case GroupState::kStable:
      RemovePendingSync(*group, member.id);
      waiter->Complete(SyncResult{kafka::ErrorCode::kNone, group->protocol_type(),
                                  group->protocol_name(), member.assignment});
      return;
    case GroupState::kCompletingRebalance:
      break;
    default:
      return fail(kafka::ErrorCode::kUnknownMemberId);
  }

  // CompletingRebalance: park until the leader's assignment is written.
  if (member.sync != nullptr && member.sync != waiter) {
    member.sync->Complete(SyncResult{kafka::ErrorCode::kRebalanceInProgress, {}, {}, {}});
  }
  member.sync = waiter;
  RemovePendingSync(*group, member.id);
  if (!group->IsLeader(member.id)) return;

  std::map<std::string, std::string> assignments;
  for (const auto& [id, assignment] : request.assignments) assignments[id] = assignment;
  std::size_t missing = 0;
  for (const auto& m : group->members()) {
    if (assignments.emplace(m->id, std::string()).second) ++missing;
  }
  spdlog::info("group {}: assignment received from leader {} for generation {} ({} members{})",
               group->id(), member.id, group->generation(), group->members().size(),
               missing > 0 ? ", " + std::to_string(missing) + " without an assignment" : "");
  const std::int32_t generation = group->generation();
  Persist(
      *group,
      [this, group_id = group->id(), generation, assignments](Status s) {
        ClassicGroup* g = Find(group_id);
        // A member may have joined or left while the record was written.
        if (g == nullptr || g->state() != GroupState::kCompletingRebalance ||
            g->generation() != generation) {
          return;
        }
        if (!s.ok()) {
          ResetAndPropagate(*g, PersistError(s));
          MaybePrepareRebalanceOrCompleteJoin(*g, "the group's assignment could not be stored");
          return;
        }
        SetAndPropagate(*g, assignments);
        g->TransitionTo(GroupState::kStable, storage::SystemClockMs());
        spdlog::info("group {} is stable at generation {} with {} members", group_id, generation,
                     g->members().size());
      },
      &assignments);
}

void GroupMembership::RemovePendingSync(ClassicGroup& group, const std::string& member_id) {
  group.pending_sync().erase(member_id);
  const bool syncing = group.state() == GroupState::kCompletingRebalance ||
                       group.state() == GroupState::kStable;
  if (!syncing || group.pending_sync().empty()) CancelPendingSync(group);
}

void GroupMembership::ResetAndPropagate(ClassicGroup& group, kafka::ErrorCode error) {
  for (const auto& m : group.members()) m->assignment.clear();
  Propagate(group, error);
}

void GroupMembership::SetAndPropagate(ClassicGroup& group,
                                      const std::map<std::string, std::string>& assignments) {
  for (const auto& m : group.members()) {
    auto it = assignments.find(m->id);
    m->assignment = it == assignments.end() ? std::string() : it->second;
  }
  Propagate(group, kafka::ErrorCode::kNone);
}

void GroupMembership::Propagate(ClassicGroup& group, kafka::ErrorCode error) {
  const bool ok = error == kafka::ErrorCode::kNone;
  for (const auto& m : group.members()) {
    if (m->sync == nullptr) continue;
    m->sync->Complete(SyncResult{error, ok ? group.protocol_type() : std::nullopt,
                                 ok ? group.protocol_name() : std::nullopt, m->assignment});
    m->sync.reset();
    // Any expiry that passed while it waited was ignored: a new session starts now.
    ScheduleHeartbeat(group, *m, m->session_timeout_ms);
  }
}

// --- Heartbeat and LeaveGroup ---------------------------------------------------------------

kafka::ErrorCode GroupMembership::Heartbeat(const std::string& group_id, std::int32_t generation,
                                            const std::string& member_id,
                                            const std::optional<std::string>& instance_id) {
  if (group_id.empty()) return kafka::ErrorCode::kInvalidGroupId;
  if (!store_.Available(group_id)) return kafka::ErrorCode::kCoordinatorNotAvailable;
  ClassicGroup* group = Find(group_id);
  if (group == nullptr) return kafka::ErrorCode::kUnknownMemberId;
  if (auto e = group->ValidateMember(member_id, instance_id); e != kafka::ErrorCode::kNone) {
    return e;
  }
  if (generation != group->generation()) return kafka::ErrorCode::kIllegalGeneration;
  Member& member = *group->Find(member_id);
  switch (group->state()) {
    case GroupState::kPreparingRebalance:
      ScheduleHeartbeat(*group, member, member.session_timeout_ms);
      return kafka::ErrorCode::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      // Members may heartbeat once JoinGroup answered, before the group is stable.
      ScheduleHeartbeat(*group, member, member.session_timeout_ms);
      return kafka::ErrorCode::kNone;
    default:
      return kafka::ErrorCode::kUnknownMemberId;
  }
}

LeaveResult GroupMembership::Leave(const std::string& group_id,
                                   const std::vector<LeavingMember>& members) {
  LeaveResult out;
  if (group_id.empty()) {
    out.error = kafka::ErrorCode::kInvalidGroupId;
    return out;
  }
  if (!store_.Available(group_id)) {
    out.error = kafka::ErrorCode::kCoordinatorNotAvailable;
    return out;
  }
  ClassicGroup* group = Find(group_id);
  if (group == nullptr) {
    out.error = kafka::ErrorCode::kUnknownMemberId;
    return out;
  }
  std::vector<std::string> left;
  for (const auto& leaving : members) {
    LeaveResult::Member& answer = out.members.emplace_back();
    answer.member_id = leaving.member_id;
    answer.instance_id = leaving.instance_id;
    std::string id = leaving.member_id;
    if (id.empty()) {
      // An administrative removal names a static member by its instance id alone.
      const Member* holder =
          leaving.instance_id ? group->FindStatic(*leaving.instance_id) : nullptr;
      if (holder == nullptr) {
        answer.error = kafka::ErrorCode::kUnknownMemberId;
        continue;
      }
      id = holder->id;
    } else if (group->IsPendingJoin(id)) {
      group->Remove(id);
      left.push_back(id);
      continue;
    } else if (auto e = group->ValidateMember(id, leaving.instance_id);
               e != kafka::ErrorCode::kNone) {
      answer.error = e;
      continue;
    }
    spdlog::info("group {}: member {} left (reason: {})", group_id, id,
                 leaving.reason.empty() ? "not provided" : leaving.reason);
    DropMember(*group, id);
    left.push_back(id);
  }
  if (left.empty()) return out;
  const std::string reason = "members left: " + JoinIds(left);
  switch (group->state()) {
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      MaybePrepareRebalanceOrCompleteJoin(*group, reason);
      break;
    case GroupState::kPreparingRebalance:
      MaybeCompleteJoinPhase(*group);
      break;
    default:
      break;
  }
  return out;
}

void GroupMembership::DropMember(ClassicGroup& group, const std::string& member_id) {
  if (Member* m = group.Find(member_id)) {
    // Its parked requests are answered so that a live client rejoins with a fresh id.
    if (m->join != nullptr) {
      m->join->Complete(JoinResult::Error(kafka::ErrorCode::kUnknownMemberId));
    }
    if (m->sync != nullptr) {
      m->sync->Complete(SyncResult{kafka::ErrorCode::kUnknownMemberId, {}, {}, {}});
    }
  }
  group.Remove(member_id);
}

void GroupMembership::RemoveMemberAndUpdate(ClassicGroup& group, const std::string& member_id,
                                            const std::string& reason) {
  DropMember(group, member_id);
  if (group.state() == GroupState::kStable ||
      group.state() == GroupState::kCompletingRebalance) {
    MaybePrepareRebalanceOrCompleteJoin(group, reason);
  } else if (group.state() == GroupState::kPreparingRebalance && group.AllMembersJoined()) {
    CompleteJoin(group);
  }
}

// --- timers -------------------------------------------------------------------------------------

void GroupMembership::ScheduleHeartbeat(ClassicGroup& group, Member& member,
                                        std::int32_t timeout_ms) {
  const std::uint64_t token = ++member.heartbeat_token;
  member.heartbeat.expires_after(milliseconds(timeout_ms));
  member.heartbeat.async_wait([this, alive = std::weak_ptr<int>(alive_), group_id = group.id(),
                               member_id = member.id, token](std::error_code ec) {
    if (!ec && !alive.expired()) HeartbeatExpired(group_id, member_id, token);
  });
}

void GroupMembership::HeartbeatExpired(const std::string& group_id,
                                       const std::string& member_id, std::uint64_t token) {
  ClassicGroup* group = Find(group_id);
  Member* member = group != nullptr ? group->Find(member_id) : nullptr;
  if (member == nullptr || member->heartbeat_token != token || member->SatisfiesHeartbeat()) {
    return;
  }
  spdlog::info("group {}: member {} failed to heartbeat within its session timeout ({} ms); "
               "removing it",
               group_id, member_id, member->session_timeout_ms);
  RemoveMemberAndUpdate(*group, member_id, "member " + member_id + " expired");
}

void GroupMembership::PendingMemberExpired(const std::string& group_id,
                                           const std::string& member_id) {
  ClassicGroup* group = Find(group_id);
  if (group == nullptr || !group->IsPendingJoin(member_id)) return;
  spdlog::info("group {}: pending member {} did not join within its session timeout", group_id,
               member_id);
  group->Remove(member_id);
  if (group->state() == GroupState::kPreparingRebalance && group->AllMembersJoined()) {
    CompleteJoin(*group);
  }
}

void GroupMembership::ScheduleJoinTimer(ClassicGroup& group, std::int32_t delay_ms,
                                        std::function<void(ClassicGroup&)> then) {
  const std::uint64_t token = ++group.join_token;
  group.join_timer.expires_after(milliseconds(delay_ms));
  group.join_timer.async_wait([this, alive = std::weak_ptr<int>(alive_), group_id = group.id(),
                               token, then = std::move(then)](std::error_code ec) {
        if (ec || alive.expired()) return;
        ClassicGroup* g = Find(group_id);
        if (g != nullptr && g->join_token == token) then(*g);
      });
}

void GroupMembership::CancelJoinTimer(ClassicGroup& group) {
  ++group.join_token;
  group.join_timer.cancel();
}

void GroupMembership::SchedulePendingSync(ClassicGroup& group) {
  const std::uint64_t token = ++group.sync_token;
  group.sync_timer.expires_after(milliseconds(group.RebalanceTimeoutMs()));
  group.sync_timer.async_wait([this, alive = std::weak_ptr<int>(alive_), group_id = group.id(),
                               generation = group.generation(), token](std::error_code ec) {
    if (!ec && !alive.expired()) PendingSyncExpired(group_id, generation, token);
  });
}

void GroupMembership::CancelPendingSync(ClassicGroup& group) {
  group.pending_sync().clear();
  ++group.sync_token;
  group.sync_timer.cancel();
}

void GroupMembership::PendingSyncExpired(const std::string& group_id, std::int32_t generation,
                                         std::uint64_t token) {
  ClassicGroup* group = Find(group_id);
  if (group == nullptr || group->sync_token != token || group->generation() != generation) return;
  if (group->state() != GroupState::kCompletingRebalance &&
      group->state() != GroupState::kStable) {
    return;
  }
  if (group->pending_sync().empty()) return;
  const std::vector<std::string> late(group->pending_sync().begin(), group->pending_sync().end());
  for (const auto& id : late) DropMember(*group, id);
  PrepareRebalance(*group, "members did not sync in time: " + JoinIds(late));
}

// --- the group's record -------------------------------------------------------------------------

void GroupMembership::Persist(ClassicGroup& group, std::function<void(Status)> done,
                              const std::map<std::string, std::string>* assignments) {
  const Status appended = store_.AppendGroupMetadata(group.id(), group.ToRecord(assignments));
  asio::co_spawn(executor_, AwaitPersisted(group.id(), appended, std::move(done)),
                 asio::detached);
}

asio::awaitable<void> GroupMembership::AwaitPersisted(std::string group_id, Status appended,
                                                      std::function<void(Status)> done) {
  const std::weak_ptr<int> alive = alive_;
  Status s = appended;
  if (s.ok()) s = co_await store_.WaitDurable(group_id);
  if (alive.expired()) co_return;
  if (!s.ok()) {
    spdlog::warn("group {}: writing its group metadata failed: {}", group_id, s.ToString());
  }
  done(s);
}

}  // namespace tern::broker::group
