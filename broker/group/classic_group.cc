#include "broker/group/classic_group.h"

#include <algorithm>
#include <map>

#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

// The topics of a consumer protocol subscription: an int16 version, then the fields of
// version 0, which every later version starts with (topics [string], user data bytes, ...).
std::optional<std::vector<std::string>> SubscriptionTopics(std::string_view metadata) {
  kafka::Reader r(metadata);
  std::int16_t version = 0;
  std::optional<std::int32_t> count;
  if (!r.ReadInt16(&version) || version < 0 || !r.ReadArrayLength(&count, false)) {
    return std::nullopt;
  }
  std::vector<std::string> topics;
  for (std::int32_t i = 0; i < count.value_or(0); ++i) {
    std::string topic;
    if (!r.ReadString(&topic, false)) return std::nullopt;
    topics.push_back(std::move(topic));
  }
  return topics;
}

}  // namespace

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty: return "Empty";
    case GroupState::kPreparingRebalance: return "PreparingRebalance";
    case GroupState::kCompletingRebalance: return "CompletingRebalance";
    case GroupState::kStable: return "Stable";
    case GroupState::kDead: return "Dead";
  }
  return "Dead";
}

std::string Member::MetadataFor(const std::optional<std::string>& protocol) const {
  if (!protocol.has_value()) return "";
  for (const auto& p : protocols) {
    if (p.name == *protocol) return p.metadata;
  }
  return "";
}

ClassicGroup::ClassicGroup(std::string id, asio::any_io_executor executor, std::int64_t now_ms)
    : join_timer(executor),
      sync_timer(executor),
      id_(std::move(id)),
      executor_(std::move(executor)),
      state_timestamp_ms_(now_ms) {}

std::unique_ptr<ClassicGroup> ClassicGroup::FromRecord(std::string id,
                                                       const GroupMetadataValue& value,
                                                       asio::any_io_executor executor) {
  auto group = std::make_unique<ClassicGroup>(std::move(id), executor,
                                              value.current_state_timestamp_ms);
  group->generation_ = value.generation;
  if (!value.protocol_type.empty()) group->protocol_type_ = value.protocol_type;
  group->protocol_name_ = value.protocol;
  for (const auto& m : value.members) {
    auto member = std::make_unique<Member>(executor);
    member->id = m.member_id;
    member->instance_id = m.group_instance_id;
    member->client_id = m.client_id;
    member->client_host = m.client_host;
    member->rebalance_timeout_ms =
        m.rebalance_timeout_ms == -1 ? m.session_timeout_ms : m.rebalance_timeout_ms;
    member->session_timeout_ms = m.session_timeout_ms;
    member->protocol_type = value.protocol_type;
    member->protocols = {JoinProtocol{value.protocol.value_or(""), m.subscription}};
    member->assignment = m.assignment;
    group->members_.push_back(std::move(member));
  }
  group->leader_ = value.leader;
  if (group->leader_.has_value() && group->Find(*group->leader_) == nullptr) {
    group->leader_.reset();
  }
  if (!group->leader_.has_value() && !group->members_.empty()) {
    group->leader_ = group->members_.front()->id;
  }
  group->state_ = group->members_.empty() ? GroupState::kEmpty : GroupState::kStable;
  group->previous_state_ = group->state_;
  group->subscribed_topics_ = group->ComputeSubscribedTopics();
  return group;
}

bool ClassicGroup::IsSubscribedTo(const std::string& topic) const {
  if (subscribed_topics_.has_value()) return subscribed_topics_->count(topic) != 0;
  return protocol_type_ == kConsumerProtocolType;
}

Member* ClassicGroup::Find(std::string_view member_id) const {
  for (const auto& m : members_) {
    if (m->id == member_id) return m.get();
  }
  return nullptr;
}

Member* ClassicGroup::FindStatic(std::string_view instance_id) const {
  for (const auto& m : members_) {
    if (m->instance_id == instance_id) return m.get();
  }
  return nullptr;
}

kafka::ErrorCode ClassicGroup::ValidateMember(
    std::string_view member_id, const std::optional<std::string>& instance_id) const {
  if (instance_id.has_value()) {
    const Member* holder = FindStatic(*instance_id);
    if (holder == nullptr) return kafka::ErrorCode::kUnknownMemberId;
    if (holder->id != member_id) return kafka::ErrorCode::kFencedInstanceId;
  }
  return Find(member_id) == nullptr ? kafka::ErrorCode::kUnknownMemberId
                                    : kafka::ErrorCode::kNone;
}

bool ClassicGroup::SupportsProtocols(std::string_view protocol_type,
                                     const std::vector<JoinProtocol>& protocols) const {
  if (state_ == GroupState::kEmpty) return !protocol_type.empty() && !protocols.empty();
  if (protocol_type_ != protocol_type) return false;
  return std::any_of(protocols.begin(), protocols.end(), [&](const JoinProtocol& p) {
    return std::all_of(members_.begin(), members_.end(), [&](const auto& m) {
      return std::any_of(m->protocols.begin(), m->protocols.end(),
                         [&](const JoinProtocol& q) { return q.name == p.name; });
    });
  });
}

std::string ClassicGroup::SelectProtocol() const {
  // Candidates: the protocols every member supports, in the first member's order.
  std::vector<std::string> candidates;
  for (const auto& p : members_.front()->protocols) {
    const bool everyone = std::all_of(members_.begin(), members_.end(), [&](const auto& m) {
      return std::any_of(m->protocols.begin(), m->protocols.end(),
                         [&](const JoinProtocol& q) { return q.name == p.name; });
    });
    if (everyone) candidates.push_back(p.name);
  }
  // Each member votes for the candidate it lists first; the most votes win (ties: the earlier
  // candidate).
  std::map<std::string, int> votes;
  for (const auto& m : members_) {
    for (const auto& p : m->protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best;
  int most = 0;
  for (const auto& c : candidates) {
    if (votes[c] > most) {
      most = votes[c];
      best = c;
    }
  }
  return best;
}

std::int32_t ClassicGroup::RebalanceTimeoutMs() const {
  std::int32_t most = 0;
  for (const auto& m : members_) most = std::max(most, m->rebalance_timeout_ms);
  return most;
}

Member& ClassicGroup::Add(std::unique_ptr<Member> member) {
  if (members_.empty()) protocol_type_ = member->protocol_type;
  if (!leader_.has_value()) leader_ = member->id;
  pending_join_.erase(member->id);
  members_.push_back(std::move(member));
  return *members_.back();
}

void ClassicGroup::Remove(std::string_view member_id) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const auto& m) { return m->id == member_id; });
  if (it != members_.end()) members_.erase(it);
  if (IsLeader(member_id)) {
    if (members_.empty()) {
      leader_.reset();
    } else {
      leader_ = members_.front()->id;
    }
  }
  pending_join_.erase(std::string(member_id));
  pending_sync_.erase(std::string(member_id));
}

Member& ClassicGroup::ReplaceStatic(std::string_view old_id, std::string new_id) {
  Member* member = Find(old_id);
  if (member->join != nullptr) {
    member->join->Complete(JoinResult::Error(kafka::ErrorCode::kFencedInstanceId,
                                             std::string(old_id)));
    member->join.reset();
  }
  if (member->sync != nullptr) {
    member->sync->Complete(SyncResult{kafka::ErrorCode::kFencedInstanceId, {}, {}, {}});
    member->sync.reset();
  }
  if (IsLeader(old_id)) leader_ = new_id;
  if (pending_sync_.erase(std::string(old_id)) != 0) pending_sync_.insert(new_id);
  member->id = std::move(new_id);
  ++member->heartbeat_token;  // the old id's expiry no longer applies
  return *member;
}

int ClassicGroup::AwaitingJoinCount() const {
  return static_cast<int>(std::count_if(members_.begin(), members_.end(),
                                        [](const auto& m) { return m->join != nullptr; }));
}

bool ClassicGroup::AllMembersJoined() const {
  return AwaitingJoinCount() == static_cast<int>(members_.size()) && pending_join_.empty();
}

bool ClassicGroup::ElectJoinedLeader() {
  if (!leader_.has_value()) return false;
  const Member* current = Find(*leader_);
  if (current != nullptr && current->join != nullptr) return true;
  for (const auto& m : members_) {
    if (m->join != nullptr) {
      leader_ = m->id;
      return true;
    }
  }
  return false;
}

void ClassicGroup::InitNextGeneration(std::int64_t now_ms) {
  ++generation_;
  if (!members_.empty()) {
    protocol_name_ = SelectProtocol();
    subscribed_topics_ = ComputeSubscribedTopics();
    TransitionTo(GroupState::kCompletingRebalance, now_ms);
  } else {
    protocol_name_.reset();
    subscribed_topics_ = ComputeSubscribedTopics();
    TransitionTo(GroupState::kEmpty, now_ms);
  }
  pending_sync_.clear();
}

void ClassicGroup::TransitionTo(GroupState state, std::int64_t now_ms) {
  previous_state_ = state_;
  state_ = state;
  state_timestamp_ms_ = now_ms;
}

bool ClassicGroup::CanRebalance() const {
  return state_ == GroupState::kEmpty || state_ == GroupState::kCompletingRebalance ||
         state_ == GroupState::kStable;
}

std::vector<JoinResult::Member> ClassicGroup::JoinMembers() const {
  std::vector<JoinResult::Member> out;
  out.reserve(members_.size());
  for (const auto& m : members_) {
    out.push_back({m->id, m->instance_id, m->MetadataFor(protocol_name_)});
  }
  return out;
}

GroupMetadataValue ClassicGroup::ToRecord(
    const std::map<std::string, std::string>* assignments) const {
  GroupMetadataValue v;
  v.protocol_type = protocol_type_.value_or("");
  v.generation = generation_;
  v.protocol = protocol_name_;
  v.leader = leader_;
  v.current_state_timestamp_ms = state_timestamp_ms_;
  for (const auto& m : members_) {
    GroupMemberMetadata r;
    r.member_id = m->id;
    r.group_instance_id = m->instance_id;
    r.client_id = m->client_id;
    r.client_host = m->client_host;
    r.rebalance_timeout_ms = m->rebalance_timeout_ms;
    r.session_timeout_ms = m->session_timeout_ms;
    r.subscription = m->MetadataFor(protocol_name_);
    if (assignments != nullptr) {
      auto it = assignments->find(m->id);
      r.assignment = it == assignments->end() ? "" : it->second;
    } else {
      r.assignment = m->assignment;
    }
    v.members.push_back(std::move(r));
  }
  return v;
}

bool ClassicGroup::IsPendingJoin(std::string_view member_id) const {
  return pending_join_.count(std::string(member_id)) != 0;
}

PendingMember& ClassicGroup::AddPendingJoin(const std::string& member_id) {
  auto& slot = pending_join_[member_id];
  slot = std::make_unique<PendingMember>(executor_);
  return *slot;
}

std::optional<std::set<std::string>> ClassicGroup::ComputeSubscribedTopics() const {
  if (protocol_type_ != kConsumerProtocolType) return std::nullopt;
  std::set<std::string> topics;
  if (members_.empty()) return topics;
  if (!protocol_name_.has_value()) return std::nullopt;
  for (const auto& m : members_) {
    auto parsed = SubscriptionTopics(m->MetadataFor(protocol_name_));
    if (!parsed.has_value()) return std::nullopt;
    topics.insert(parsed->begin(), parsed->end());
  }
  return topics;
}

}  // namespace tern::broker::group
