// GroupMembership: JoinGroup and the phases of a rebalance (preparing, completing the join).
#include "broker/group/group_membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/group/consumer_group.h"
#include "broker/storage/log_config.h"

namespace tern::broker::group {
namespace {

// JoinGroup v4+ gives a new member its id with MEMBER_ID_REQUIRED, then waits for it to join
// with that id; v9+ lets a replaced static leader skip computing an assignment.
constexpr std::int16_t kFirstMemberIdRequiredVersion = 4;
constexpr std::int16_t kFirstSkipAssignmentVersion = 9;

}  // namespace

asio::awaitable<JoinResult> GroupMembership::Join(JoinRequest request) {
  auto waiter = std::make_shared<Waiter<JoinResult>>(executor_);
  StartJoin(request, waiter);
  co_return co_await Waiter<JoinResult>::Wait(waiter);
}

void GroupMembership::StartJoin(const JoinRequest& request,
                                const std::shared_ptr<Waiter<JoinResult>>& waiter) {
  auto fail = [&](kafka::ErrorCode error, std::string member_id) {
    waiter->Complete(JoinResult::Error(error, std::move(member_id)));
  };
  if (request.group_id.empty()) return fail(kafka::ErrorCode::kInvalidGroupId, request.member_id);
  if (!store_.Available(request.group_id)) {
    return fail(kafka::ErrorCode::kCoordinatorNotAvailable, request.member_id);
  }
  if (request.session_timeout_ms < config_.min_session_timeout_ms ||
      request.session_timeout_ms > config_.max_session_timeout_ms) {
    return fail(kafka::ErrorCode::kInvalidSessionTimeout, request.member_id);
  }
  ClassicGroup* group = Find(request.group_id);
  if (group == nullptr) {
    // Only a member without an id creates a group.
    if (!request.member_id.empty()) {
      return fail(kafka::ErrorCode::kUnknownMemberId, request.member_id);
    }
    auto created = std::make_unique<ClassicGroup>(request.group_id, executor_,
                                                  storage::SystemClockMs());
    group = created.get();
    groups_[request.group_id] = std::move(created);
  }
  if (!AcceptJoiningMember(*group, request.member_id)) {
    spdlog::info("group {}: member {} refused, the group has reached group.max.size ({})",
                 group->id(), request.member_id.empty() ? "(new)" : request.member_id,
                 config_.max_size);
    group->Remove(request.member_id);
    MaybeCompleteJoinPhase(*group);
    return fail(kafka::ErrorCode::kGroupMaxSizeReached, "");
  }
  if (request.member_id.empty()) {
    JoinNewMember(*group, request, waiter);
  } else {
    JoinExistingMember(*group, request, waiter);
  }
}

bool GroupMembership::AcceptJoiningMember(const ClassicGroup& group,
                                          const std::string& member_id) const {
  const Member* member = group.Find(member_id);
  switch (group.state()) {
    case GroupState::kPreparingRebalance:
      // Counting those already rejoined lets the last ones to rejoin be refused, should the
      // group be over the limit (it was lowered, say).
      return (member != nullptr && member->join != nullptr) ||
             group.AwaitingJoinCount() < config_.max_size;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      return member != nullptr ||
             static_cast<std::int64_t>(group.members().size()) < config_.max_size;
    default:
      return true;
  }
}

void GroupMembership::JoinNewMember(ClassicGroup& group, const JoinRequest& request,
                                    const std::shared_ptr<Waiter<JoinResult>>& waiter) {
  if (!group.SupportsProtocols(request.protocol_type, request.protocols)) {
    waiter->Complete(JoinResult::Error(kafka::ErrorCode::kInconsistentGroupProtocol));
    return;
  }
  const std::string new_id =
      request.instance_id.value_or(request.client_id) + "-" + RandomUuidText();
  if (request.instance_id.has_value()) {
    if (const Member* existing = group.FindStatic(*request.instance_id)) {
      spdlog::info("group {}: static member {} rejoins in state {}; it replaces member {}",
                   group.id(), *request.instance_id, GroupStateName(group.state()),
                   existing->id);
      ReplaceStaticMember(group, request, existing->id, new_id, waiter);
    } else {
      AddMemberThenRebalance(group, request, new_id, waiter);
    }
    return;
  }
  if (request.version >= kFirstMemberIdRequiredVersion) {
    // The member must come back with this id; until then it holds a place in the rebalance.
    PendingMember& pending = group.AddPendingJoin(new_id);
    pending.expiry.expires_after(std::chrono::milliseconds(request.session_timeout_ms));
    pending.expiry.async_wait([this, alive = std::weak_ptr<int>(alive_), group_id = group.id(),
                               new_id](std::error_code ec) {
      if (!ec && !alive.expired()) PendingMemberExpired(group_id, new_id);
    });
    waiter->Complete(JoinResult::Error(kafka::ErrorCode::kMemberIdRequired, new_id));
    return;
  }
  AddMemberThenRebalance(group, request, new_id, waiter);
}

void GroupMembership::JoinExistingMember(ClassicGroup& group, const JoinRequest& request,
                                         const std::shared_ptr<Waiter<JoinResult>>& waiter) {
  const std::string& id = request.member_id;
  if (!group.SupportsProtocols(request.protocol_type, request.protocols)) {
    waiter->Complete(JoinResult::Error(kafka::ErrorCode::kInconsistentGroupProtocol, id));
    return;
  }
  if (group.IsPendingJoin(id)) {
    if (request.instance_id.has_value()) {
      // Pending members are dynamic: an instance id with a pending id is no member's.
      waiter->Complete(JoinResult::Error(kafka::ErrorCode::kUnknownMemberId, id));
      return;
    }
    AddMemberThenRebalance(group, request, id, waiter);
    return;
  }
  if (auto e = group.ValidateMember(id, request.instance_id); e != kafka::ErrorCode::kNone) {
    waiter->Complete(JoinResult::Error(e, id));
    return;
  }
  Member& member = *group.Find(id);
  const bool same_metadata = member.protocols == request.protocols;
  switch (group.state()) {
    case GroupState::kPreparingRebalance:
      UpdateMember(member, request.protocols, request.rebalance_timeout_ms,
                   request.session_timeout_ms, waiter);
      MaybePrepareRebalanceOrCompleteJoin(group, "member " + id + " rejoins");
      return;
    case GroupState::kCompletingRebalance:
      if (same_metadata) {
        // It missed the answer to its JoinGroup: the same answer again.
        waiter->Complete(CurrentGeneration(group, member, group.IsLeader(id)));
        return;
      }
      break;
    case GroupState::kStable:
      if (same_metadata && !group.IsLeader(id)) {
        waiter->Complete(CurrentGeneration(group, member, false));
        return;
      }
      break;
    default:
      waiter->Complete(JoinResult::Error(kafka::ErrorCode::kUnknownMemberId, id));
      return;
  }
  // New metadata, or the leader asking for a rebalance (topic metadata changed, say).
  UpdateMember(member, request.protocols, request.rebalance_timeout_ms,
               request.session_timeout_ms, waiter);
  MaybePrepareRebalanceOrCompleteJoin(
      group, (group.IsLeader(id) ? "leader " : "member ") + id + " rejoins" +
                 (request.reason.empty() ? "" : " (" + request.reason + ")"));
}

JoinResult GroupMembership::CurrentGeneration(const ClassicGroup& group, const Member& member,
                                              bool with_members) const {
  JoinResult r;
  r.generation = group.generation();
  r.protocol_type = group.protocol_type();
  r.protocol_name = group.protocol_name();
  r.leader = group.leader().value_or("");
  r.member_id = member.id;
  if (with_members) r.members = group.JoinMembers();
  return r;
}

void GroupMembership::AddMemberThenRebalance(ClassicGroup& group, const JoinRequest& request,
                                             const std::string& member_id,
                                             const std::shared_ptr<Waiter<JoinResult>>& waiter) {
  auto member = std::make_unique<Member>(executor_);
  member->id = member_id;
  member->instance_id = request.instance_id;
  member->client_id = request.client_id;
  member->client_host = request.client_host;
  member->rebalance_timeout_ms = request.rebalance_timeout_ms;
  member->session_timeout_ms = request.session_timeout_ms;
  member->protocol_type = request.protocol_type;
  member->protocols = request.protocols;
  member->is_new = true;
  member->join = waiter;
  if (group.state() == GroupState::kPreparingRebalance &&
      group.previous_state() == GroupState::kEmpty) {
    group.new_member_added = true;  // the initial rebalance may wait a little longer
  }
  Member& added = group.Add(std::move(member));
  // A parked JoinGroup cannot heartbeat, and a client that gave up on it may retry under a new
  // id: new members get a deadline of their own.
  ScheduleHeartbeat(group, added, config_.new_member_join_timeout_ms);
  MaybePrepareRebalanceOrCompleteJoin(
      group, "new member " + member_id +
                 (request.instance_id ? " (instance " + *request.instance_id + ")" : "") +
                 " joins" + (request.reason.empty() ? "" : " (" + request.reason + ")"));
}

void GroupMembership::UpdateMember(Member& member, std::vector<JoinProtocol> protocols,
                                   std::int32_t rebalance_timeout_ms,
                                   std::int32_t session_timeout_ms,
                                   std::shared_ptr<Waiter<JoinResult>> waiter) {
  // A JoinGroup parked under this member before is stale: its client has moved on.
  if (member.join != nullptr && member.join != waiter) {
    member.join->Complete(JoinResult::Error(kafka::ErrorCode::kRebalanceInProgress, member.id));
  }
  member.protocols = std::move(protocols);
  member.rebalance_timeout_ms = rebalance_timeout_ms;
  member.session_timeout_ms = session_timeout_ms;
  member.join = std::move(waiter);
}

void GroupMembership::ReplaceStaticMember(ClassicGroup& group, const JoinRequest& request,
                                          const std::string& old_id, const std::string& new_id,
                                          const std::shared_ptr<Waiter<JoinResult>>& waiter) {
  const std::string old_leader = group.leader().value_or("");
  Member& member = group.ReplaceStatic(old_id, new_id);
  ScheduleHeartbeat(group, member, member.session_timeout_ms);
  const std::vector<JoinProtocol> old_protocols = member.protocols;
  const std::int32_t old_rebalance_timeout_ms = member.rebalance_timeout_ms;
  const std::int32_t old_session_timeout_ms = member.session_timeout_ms;
  UpdateMember(member, request.protocols, request.rebalance_timeout_ms,
               request.session_timeout_ms, waiter);

  switch (group.state()) {
    case GroupState::kStable:
      if (group.protocol_name().value_or("") != group.SelectProtocol()) {
        MaybePrepareRebalanceOrCompleteJoin(
            group, "static member " + new_id + " changes the group's protocol");
        return;
      }
      break;
    case GroupState::kCompletingRebalance:
      // The leader may be assigning to the old id: a new rebalance gives the new id its share.
      PrepareRebalance(group, "static member " + new_id + " rejoins during the assignment");
      return;
    default:
      MaybeCompleteJoinPhase(group);
      return;
  }

  // Stable, protocol unchanged: the member takes its predecessor's place and assignment
  // without a rebalance, once the new id is stored.
  spdlog::info("group {}: static member {} takes over from {} without a rebalance", group.id(),
               new_id, old_id);
  const std::int16_t version = request.version;
  Persist(group, [this, group_id = group.id(), old_id, new_id, old_leader, version, waiter,
                  old_protocols, old_rebalance_timeout_ms, old_session_timeout_ms](Status s) {
    ClassicGroup* g = Find(group_id);
    Member* m = g != nullptr ? g->Find(new_id) : nullptr;
    if (!s.ok()) {
      if (m != nullptr) {
        // The old id stays the member's, as the log says.
        if (m->join == waiter) m->join.reset();
        UpdateMember(*m, old_protocols, old_rebalance_timeout_ms, old_session_timeout_ms,
                     nullptr);
        ScheduleHeartbeat(*g, g->ReplaceStatic(new_id, old_id), old_session_timeout_ms);
      }
      JoinResult r = JoinResult::Error(s.code() == Status::Code::kTooLarge
                                           ? kafka::ErrorCode::kUnknownServerError
                                           : kafka::ErrorCode::kCoordinatorNotAvailable);
      waiter->Complete(std::move(r));
      return;
    }
    if (m == nullptr || m->join != waiter) return;
    JoinResult r;
    if (version >= kFirstSkipAssignmentVersion) {
      // The leader learns it leads but keeps the current assignment.
      const bool leads = g->IsLeader(new_id);
      r = CurrentGeneration(*g, *m, leads);
      r.skip_assignment = leads;
    } else {
      // Older clients are told the old leader id, so that a replaced leader does not assign.
      r = CurrentGeneration(*g, *m, false);
      r.leader = old_leader;
    }
    m->join->Complete(std::move(r));
    m->join.reset();
  });
}

// --- the phases of a rebalance ------------------------------------------------------------------

void GroupMembership::MaybePrepareRebalanceOrCompleteJoin(ClassicGroup& group,
                                                          const std::string& reason) {
  if (group.CanRebalance()) {
    PrepareRebalance(group, reason);
  } else {
    MaybeCompleteJoinPhase(group);
  }
}

void GroupMembership::PrepareRebalance(ClassicGroup& group, const std::string& reason) {
  if (group.state() == GroupState::kCompletingRebalance) {
    ResetAndPropagate(group, kafka::ErrorCode::kRebalanceInProgress);
  }
  CancelPendingSync(group);
  const bool initial = group.state() == GroupState::kEmpty;
  if (initial) {
    // A new group: give the other members time to arrive before the first generation.
    const std::int32_t delay = config_.initial_rebalance_delay_ms;
    const std::int32_t remaining = std::max(group.RebalanceTimeoutMs() - delay, 0);
    ScheduleJoinTimer(group, delay, [this, delay, remaining](ClassicGroup& g) {
      InitialDelayPassed(g, delay, remaining);
    });
  }
  spdlog::info("group {}: preparing to rebalance from state {}, generation {} ({})", group.id(),
               GroupStateName(group.state()), group.generation(), reason);
  group.TransitionTo(GroupState::kPreparingRebalance, storage::SystemClockMs());
  if (!initial) MaybeCompleteJoinElseSchedule(group);
}

void GroupMembership::InitialDelayPassed(ClassicGroup& group, std::int32_t delay_ms,
                                         std::int32_t remaining_ms) {
  if (group.new_member_added && remaining_ms != 0) {
    group.new_member_added = false;
    const std::int32_t next_delay = std::min(config_.initial_rebalance_delay_ms, remaining_ms);
    const std::int32_t next_remaining = std::max(remaining_ms - delay_ms, 0);
    ScheduleJoinTimer(group, next_delay, [this, next_delay, next_remaining](ClassicGroup& g) {
      InitialDelayPassed(g, next_delay, next_remaining);
    });
    return;
  }
  CompleteJoin(group);
}

void GroupMembership::MaybeCompleteJoinPhase(ClassicGroup& group) {
  // The first rebalance of a group ends with its delay, not when everyone has joined.
  if (group.state() != GroupState::kPreparingRebalance ||
      group.previous_state() == GroupState::kEmpty || !group.AllMembersJoined()) {
    return;
  }
  CompleteJoin(group);
}

void GroupMembership::MaybeCompleteJoinElseSchedule(ClassicGroup& group) {
  if (group.AllMembersJoined()) {
    CompleteJoin(group);
    return;
  }
  ScheduleJoinTimer(group, group.RebalanceTimeoutMs(), [this](ClassicGroup& g) {
    CompleteJoin(g);
  });
}

void GroupMembership::CompleteJoin(ClassicGroup& group) {
  CancelJoinTimer(group);
  // Dynamic members that did not rejoin are gone; static ones keep their place.
  std::vector<std::string> gone;
  for (const auto& m : group.members()) {
    if (m->join == nullptr && !m->instance_id.has_value()) gone.push_back(m->id);
  }
  for (const auto& id : gone) DropMember(group, id);
  if (!gone.empty()) {
    spdlog::info("group {}: removed {} members that did not rejoin in time", group.id(),
                 gone.size());
  }
  if (!group.ElectJoinedLeader() && !group.empty()) {
    // Only static members that did not rejoin remain: wait for them, or for their sessions to
    // end.
    spdlog::warn("group {}: no member rejoined; waiting another rebalance timeout", group.id());
    ScheduleJoinTimer(group, group.RebalanceTimeoutMs(), [this](ClassicGroup& g) {
      CompleteJoin(g);
    });
    return;
  }
  group.InitNextGeneration(storage::SystemClockMs());
  if (group.state() == GroupState::kEmpty) {
    spdlog::info("group {} is empty at generation {}", group.id(), group.generation());
    Persist(group, [](Status) {});  // a failure only leaves the previous generation in the log
    return;
  }
  spdlog::info("group {}: generation {} with {} members, protocol {}, leader {}", group.id(),
               group.generation(), group.members().size(), group.protocol_name().value_or(""),
               group.leader().value_or(""));
  for (const auto& m : group.members()) {
    if (m->join != nullptr) {
      m->join->Complete(CurrentGeneration(group, *m, group.IsLeader(m->id)));
      m->join.reset();
    }
    ScheduleHeartbeat(group, *m, m->session_timeout_ms);
    m->is_new = false;
    group.pending_sync().insert(m->id);
  }
  SchedulePendingSync(group);
}

}  // namespace tern::broker::group
