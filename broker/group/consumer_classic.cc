// ConsumerMembership: classic members in consumer groups — JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup from members of the classic protocol in a group of the consumer protocol, and
// the group such members come from in an online upgrade (consumer_membership.h).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/group/consumer_group_records.h"
#include "broker/group/consumer_membership.h"
#include "broker/group/consumer_protocol.h"
#include "broker/group/offsets_records.h"

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;

// JoinGroup v4 is the first to give a new dynamic member its id with MEMBER_ID_REQUIRED.
constexpr std::int16_t kFirstMemberIdRequiredVersion = 4;

std::string Key(ConsumerRecordType type, const std::string& group,
                const std::string& member = {}) {
  return EncodeConsumerRecordKey(type, group, member);
}

// Whether every other classic member of the group supports one of the protocols (by name).
bool SupportedByAll(const ConsumerGroup& group, const std::string& member_id,
                    const std::vector<JoinProtocol>& protocols) {
  return std::any_of(protocols.begin(), protocols.end(), [&](const JoinProtocol& p) {
    return std::all_of(group.members().begin(), group.members().end(), [&](const auto& e) {
      const ConsumerMember& m = e.second;
      if (m.member_id == member_id || !m.classic.has_value()) return true;
      return std::any_of(m.classic->protocols.begin(), m.classic->protocols.end(),
                         [&](const auto& q) { return q.first == p.name; });
    });
  });
}

}  // namespace

NamedPartitions ToTopicNames(const Topics& topics, const TopicPartitions& tp) {
  NamedPartitions out;
  for (const auto& [id, parts] : tp) {
    if (const Topic* t = topics.FindById(id)) out[t->name] = parts;
  }
  return out;
}

TopicPartitions ToTopicIds(const Topics& topics, const NamedPartitions& named) {
  TopicPartitions out;
  for (const auto& [name, parts] : named) {
    if (const Topic* t = topics.Find(name)) out[t->id] = parts;
  }
  return out;
}

kafka::ErrorCode ConsumerMembership::CheckClassicMember(
    const ConsumerGroup* group, const std::string& member_id, const ConsumerMember* m,
    const std::optional<std::string>& instance_id, std::int32_t generation) const {
  if (group != nullptr && instance_id.has_value()) {
    for (const auto& [id, holder] : group->members()) {
      if (holder.instance_id == instance_id && id != member_id) return E::kFencedInstanceId;
    }
  }
  if (group == nullptr || m == nullptr) return E::kUnknownMemberId;
  if (instance_id.has_value() && m->instance_id != instance_id) return E::kFencedInstanceId;
  if (!m->classic.has_value()) return E::kUnknownMemberId;
  if (generation != m->member_epoch) return E::kIllegalGeneration;
  return E::kNone;
}

bool ConsumerMembership::MustRejoin(const ConsumerGroup& group, ConsumerMember& m,
                                    std::int64_t now_ms) const {
  const bool rejoin = m.member_epoch < group.group_epoch() ||
                      m.state == MemberState::kUnrevokedPartitions ||
                      (m.state == MemberState::kUnreleasedPartitions &&
                       !group.WaitingOnUnreleased(m));
  if (rejoin && m.join_deadline_ms == 0) m.join_deadline_ms = now_ms + m.rebalance_timeout_ms;
  return rejoin;
}

JoinResult ConsumerMembership::ClassicJoin(const JoinRequest& r) {
  ConsumerGroup* group = Find(r.group_id);
  if (group == nullptr || group->empty()) return JoinResult::Error(E::kUnknownMemberId, r.member_id);
  const std::int64_t now = SteadyNowMs();
  std::string id = r.member_id.empty() ? RandomUuidText() : r.member_id;
  ConsumerMember* m = group->Find(id);
  ConsumerMember* old = r.instance_id ? group->FindByInstance(*r.instance_id) : nullptr;
  if (r.instance_id.has_value() && !r.member_id.empty()) {
    // A static member that names its id must be the instance's current member.
    if (old == nullptr) return JoinResult::Error(E::kUnknownMemberId, r.member_id);
    if (old->member_id != r.member_id) return JoinResult::Error(E::kFencedInstanceId, r.member_id);
    old = nullptr;  // it is `m`
  }
  if (m == nullptr && old == nullptr &&
      group->members().size() >= static_cast<std::size_t>(config_.max_size)) {
    return JoinResult::Error(E::kGroupMaxSizeReached, r.member_id);
  }
  if (r.protocol_type != kConsumerGroupType || r.protocols.empty() ||
      !SupportedByAll(*group, id, r.protocols)) {
    return JoinResult::Error(E::kInconsistentGroupProtocol, r.member_id);
  }
  auto subscription = DecodeConsumerSubscription(r.protocols.front().metadata);
  if (!subscription.has_value()) return JoinResult::Error(E::kInconsistentGroupProtocol, r.member_id);
  if (r.member_id.empty() && !r.instance_id.has_value() &&
      r.version >= kFirstMemberIdRequiredVersion) {
    return JoinResult::Error(E::kMemberIdRequired, id);
  }

  bool rebalance = false;
  bool replaced_consumer_member = false;
  if (m == nullptr && old != nullptr) {
    replaced_consumer_member = !old->classic.has_value();
    // A static member's new incarnation takes its place, epoch and partitions.
    ConsumerMember fresh;
    fresh.member_id = id;
    fresh.instance_id = r.instance_id;
    fresh.subscribed_topic_names = old->subscribed_topic_names;
    fresh.topics = old->topics;
    m = &ReplaceStatic(*group, old->member_id, std::move(fresh));
  } else if (m == nullptr) {
    ConsumerMember fresh;
    fresh.member_id = id;
    fresh.instance_id = r.instance_id;
    m = &group->Add(std::move(fresh));
    rebalance = true;
  }

  m->rebalance_timeout_ms = r.rebalance_timeout_ms;
  m->rack_id = subscription->rack_id;
  m->subscribed_topic_names = SortedTopicNames(subscription->topics);
  m->subscribed_topic_regex.reset();
  m->regex.reset();
  m->client_id = r.client_id;
  m->client_host = r.client_host;
  ClassicMemberMetadata classic;
  classic.session_timeout_ms = r.session_timeout_ms;
  for (const auto& p : r.protocols) classic.protocols.emplace_back(p.name, p.metadata);
  m->classic = std::move(classic);
  m->classic_protocol = r.protocols.front().name;
  m->assignment_version = AssignmentVersionFor(r.protocols.front().metadata);
  if (Resolve(*group, *m)) rebalance = true;
  RecordMetadata(*group, *m);
  if (rebalance) Rebalance(*group);

  // Eager clients give up everything before joining again; cooperative ones list what they
  // still own, and what they must give up counts as given up once it is not listed.
  const TopicPartitions owned = ToTopicIds(topics_, subscription->owned);
  group->Reconcile(*m, &owned, now);
  m->revocation_deadline_ms = 0;  // a classic member has its join and sync deadlines instead
  RecordAssignment(*group, *m);
  m->session_deadline_ms = now + r.session_timeout_ms;
  m->join_deadline_ms = 0;
  m->sync_deadline_ms = now + r.rebalance_timeout_ms;
  // The classic member took the place of the last member of the consumer protocol: the group
  // goes back to the classic protocol, where the member is told to join again.
  if (replaced_consumer_member && config_.online_downgrade && group->AllClassic() &&
      group->members().size() <= static_cast<std::size_t>(config_.classic_max_size)) {
    downgradable_.insert(group->id());
  }

  JoinResult out;
  out.generation = m->member_epoch;
  out.protocol_type = std::string(kConsumerGroupType);
  out.protocol_name = m->classic_protocol;
  out.leader = "";  // nobody assigns: the broker has
  out.member_id = id;
  return out;
}

SyncResult ConsumerMembership::ClassicSync(const SyncRequest& r) {
  SyncResult out;
  ConsumerGroup* group = Find(r.group_id);
  ConsumerMember* m = group == nullptr ? nullptr : group->Find(r.member_id);
  out.error = CheckClassicMember(group, r.member_id, m, r.instance_id, r.generation);
  if (out.error != E::kNone) return out;
  const auto& protocols = m->classic->protocols;
  if ((r.protocol_type.has_value() && *r.protocol_type != kConsumerGroupType) ||
      (r.protocol_name.has_value() &&
       std::none_of(protocols.begin(), protocols.end(),
                    [&](const auto& p) { return p.first == *r.protocol_name; }))) {
    out.error = E::kInconsistentGroupProtocol;
    return out;
  }
  const std::int64_t now = SteadyNowMs();
  if (group->group_epoch() > m->member_epoch && m->state != MemberState::kUnrevokedPartitions) {
    if (m->join_deadline_ms == 0) m->join_deadline_ms = now + m->rebalance_timeout_ms;
    out.error = E::kRebalanceInProgress;
    return out;
  }
  m->sync_deadline_ms = 0;
  m->session_deadline_ms = now + SessionTimeoutOf(*m);
  out.protocol_type = std::string(kConsumerGroupType);
  out.protocol_name = r.protocol_name.value_or(m->classic_protocol);
  out.assignment = EncodeConsumerAssignment(ToTopicNames(topics_, m->assigned), m->assignment_version);
  return out;
}

kafka::ErrorCode ConsumerMembership::ClassicHeartbeat(
    const std::string& group_id, std::int32_t generation, const std::string& member_id,
    const std::optional<std::string>& instance_id) {
  ConsumerGroup* group = Find(group_id);
  ConsumerMember* m = group == nullptr ? nullptr : group->Find(member_id);
  if (auto e = CheckClassicMember(group, member_id, m, instance_id, generation); e != E::kNone) {
    return e;
  }
  const std::int64_t now = SteadyNowMs();
  m->session_deadline_ms = now + SessionTimeoutOf(*m);
  return MustRejoin(*group, *m, now) ? E::kRebalanceInProgress : E::kNone;
}

LeaveResult ConsumerMembership::ClassicLeave(const std::string& group_id,
                                             const std::vector<LeavingMember>& members) {
  LeaveResult out;
  ConsumerGroup* group = Find(group_id);
  bool removed = false;
  for (const auto& leaving : members) {
    LeaveResult::Member answer{leaving.member_id, leaving.instance_id, E::kNone};
    ConsumerMember* m = nullptr;
    if (group != nullptr && leaving.instance_id.has_value()) {
      m = group->FindByInstance(*leaving.instance_id);
      if (m != nullptr && !leaving.member_id.empty() && m->member_id != leaving.member_id) {
        answer.error = E::kFencedInstanceId;
        out.members.push_back(answer);
        continue;
      }
    } else if (group != nullptr) {
      m = group->Find(leaving.member_id);
    }
    if (m == nullptr) {
      answer.error = E::kUnknownMemberId;
    } else {
      spdlog::debug("group {}: member {} left{}", group_id, m->member_id,
                    leaving.reason.empty() ? "" : ": " + leaving.reason);
      RemoveMember(*group, m->member_id);
      removed = true;
    }
    out.members.push_back(answer);
  }
  if (removed) AfterRemovals(*group);
  return out;
}

void ConsumerMembership::TombstoneClassicRecord(const std::string& group_id) {
  Emit(group_id, EncodeGroupMetadataKey(group_id), std::nullopt);
}

ConsumerGroup& ConsumerMembership::Adopt(const std::string& group_id, std::int32_t generation,
                                         std::vector<ConsumerMember> members) {
  const std::int64_t now = SteadyNowMs();
  auto owned = std::make_unique<ConsumerGroup>(group_id);
  ConsumerGroup& group = *owned;
  groups_[group_id] = std::move(owned);
  std::map<std::string, TopicPartitions> targets;
  for (const auto& m : members) targets[m.member_id] = m.assigned;
  group.Restore(generation, generation, targets);
  for (auto& member : members) {
    member.member_epoch = generation;
    member.previous_member_epoch = generation;
    member.state = MemberState::kStable;
    member.session_deadline_ms = now + SessionTimeoutOf(member);
    member.topics = Subscription(member);
    group.RestoreMember(std::move(member));
  }
  RefreshTopics(group);
  // Kafka's order: a tombstone of the classic group's record, every member's metadata, the
  // group epoch, the targets, the target epoch, every member's current assignment.
  TombstoneClassicRecord(group_id);
  for (const auto& [id, m] : group.members()) RecordMetadata(group, *group.Find(id));
  Emit(group_id, Key(ConsumerRecordType::kGroupMetadata, group_id), EncodeEpochValue(generation));
  for (const auto& [id, target] : targets) {
    Emit(group_id, Key(ConsumerRecordType::kTargetAssignmentMember, group_id, id),
         EncodeTargetAssignmentValue(target));
  }
  Emit(group_id, Key(ConsumerRecordType::kTargetAssignmentMetadata, group_id),
       EncodeEpochValue(generation));
  for (const auto& [id, m] : group.members()) RecordAssignment(group, *group.Find(id));
  return group;
}

}  // namespace tern::broker::group
