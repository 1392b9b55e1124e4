#include "broker/group/consumer_group.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace tern::broker::group {

std::string RandomUuidText() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t hi = (random() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t lo = (random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

TopicPartitions Minus(const TopicPartitions& a, const TopicPartitions& b) {
  TopicPartitions out;
  for (const auto& [topic, parts] : a) {
    const auto other = b.find(topic);
    for (std::int32_t p : parts) {
      if (other == b.end() || !other->second.contains(p)) out[topic].insert(p);
    }
  }
  return out;
}

TopicPartitions Intersect(const TopicPartitions& a, const TopicPartitions& b) {
  TopicPartitions out;
  for (const auto& [topic, parts] : a) {
    const auto other = b.find(topic);
    if (other == b.end()) continue;
    for (std::int32_t p : parts) {
      if (other->second.contains(p)) out[topic].insert(p);
    }
  }
  return out;
}

bool Contains(const TopicPartitions& outer, const TopicPartitions& inner) {
  return Minus(inner, outer).empty();
}

std::string_view ConsumerGroup::StateName() const {
  if (members_.empty()) return "Empty";
  for (const auto& [id, m] : members_) {
    if (m.state != MemberState::kStable || m.member_epoch != assignment_epoch_) {
      return "Reconciling";
    }
  }
  return "Stable";
}

std::string ConsumerGroup::AssignorName() const {
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members_) {
    if (m.server_assignor.has_value()) ++votes[*m.server_assignor];
  }
  std::string best(kUniformAssignor);
  int most = 0;
  for (const auto& [name, n] : votes) {
    if (n > most) best = name, most = n;
  }
  return best;
}

bool ConsumerGroup::IsSubscribedTo(const std::string& topic) const {
  return std::any_of(members_.begin(), members_.end(),
                     [&](const auto& e) { return e.second.topics.contains(topic); });
}

ConsumerMember* ConsumerGroup::Find(const std::string& member_id) {
  const auto it = members_.find(member_id);
  return it == members_.end() ? nullptr : &it->second;
}

const ConsumerMember* ConsumerGroup::Find(const std::string& member_id) const {
  const auto it = members_.find(member_id);
  return it == members_.end() ? nullptr : &it->second;
}

ConsumerMember* ConsumerGroup::FindByInstance(const std::string& instance_id) {
  for (auto& [id, m] : members_) {
    if (m.instance_id == instance_id) return &m;
  }
  return nullptr;
}

const TopicPartitions& ConsumerGroup::TargetOf(const std::string& member_id) const {
  static const TopicPartitions kNone;
  const auto it = target_.find(member_id);
  return it == target_.end() ? kNone : it->second;
}

ConsumerMember& ConsumerGroup::Add(ConsumerMember member) {
  const std::string id = member.member_id;
  member.member_epoch = 0;
  member.previous_member_epoch = -1;
  member.state = MemberState::kStable;
  member.assigned.clear();
  member.pending_revocation.clear();
  return members_.emplace(id, std::move(member)).first->second;
}

void ConsumerGroup::Remove(const std::string& member_id) {
  const std::string id = member_id;  // it may be the id of the member erased below
  const auto it = members_.find(id);
  if (it == members_.end()) return;
  Release(it->second);
  members_.erase(it);
  target_.erase(id);
}

ConsumerMember& ConsumerGroup::Replace(const std::string& old_id, ConsumerMember member) {
  ConsumerMember& old = members_.at(old_id);
  // A static member that left for now keeps its last epoch as the previous one.
  if (old.member_epoch == kStaticLeaveEpoch) {
    member.member_epoch = old.previous_member_epoch >= 0 ? old.previous_member_epoch : 0;
  } else {
    member.member_epoch = old.member_epoch;
  }
  member.previous_member_epoch = -1;
  member.state = old.state;
  TopicPartitions assigned = old.assigned;
  TopicPartitions pending = old.pending_revocation;
  member.revocation_deadline_ms = old.revocation_deadline_ms;
  TopicPartitions target = TargetOf(old_id);
  Remove(old_id);
  const std::string id = member.member_id;
  ConsumerMember& m = members_.emplace(id, std::move(member)).first->second;
  target_[id] = std::move(target);
  SetHeld(m, std::move(assigned), std::move(pending));
  return m;
}

void ConsumerGroup::ResetAssignment(ConsumerMember& member) {
  SetHeld(member, {}, {});
  member.member_epoch = 0;
  member.previous_member_epoch = -1;
  member.state = MemberState::kStable;
  member.revocation_deadline_ms = 0;
}

void ConsumerGroup::Restore(std::int32_t group_epoch, std::int32_t assignment_epoch,
                            std::map<std::string, TopicPartitions> targets) {
  group_epoch_ = group_epoch;
  assignment_epoch_ = assignment_epoch;
  target_ = std::move(targets);
}

ConsumerMember& ConsumerGroup::RestoreMember(ConsumerMember member) {
  TopicPartitions assigned = std::move(member.assigned);
  TopicPartitions pending = std::move(member.pending_revocation);
  member.assigned.clear();
  member.pending_revocation.clear();
  const std::string id = member.member_id;
  ConsumerMember& m = members_.insert_or_assign(id, std::move(member)).first->second;
  SetHeld(m, std::move(assigned), std::move(pending));
  return m;
}

bool ConsumerGroup::WaitingOnUnreleased(const ConsumerMember& member) const {
  for (const auto& [topic, parts] : Minus(TargetOf(member.member_id), member.assigned)) {
    for (std::int32_t p : parts) {
      if (HeldByOther(topic, p, member.member_id)) return true;
    }
  }
  return false;
}

bool ConsumerGroup::AllClassic() const {
  return !members_.empty() && std::all_of(members_.begin(), members_.end(), [](const auto& e) {
           return e.second.classic.has_value();
         });
}

bool ConsumerGroup::SetSubscribedTopics(std::map<std::string, SubscribedTopic> topics) {
  if (topics == topics_) return false;
  topics_ = std::move(topics);
  return true;
}

void ConsumerGroup::BumpEpochAndAssign() {
  ++group_epoch_;
  std::map<std::string, AssignorMember> in;
  for (const auto& [id, m] : members_) {
    AssignorMember& a = in[id];
    for (const std::string& name : m.topics) {
      if (const auto t = topics_.find(name); t != topics_.end()) a.topics.insert(t->second.id);
    }
    a.current = TargetOf(id);
  }
  std::map<kafka::Uuid, std::int32_t> partitions;
  for (const auto& [name, t] : topics_) partitions[t.id] = t.partitions;
  target_ = Assign(AssignorName(), in, partitions);
  assignment_epoch_ = group_epoch_;
}

void ConsumerGroup::Reconcile(ConsumerMember& m, const TopicPartitions* owned,
                              std::int64_t now_ms) {
  if (m.member_epoch == kStaticLeaveEpoch) return;
  if (m.state == MemberState::kUnrevokedPartitions) {
    // Nothing moves until the member says it gave the partitions up.
    if (owned == nullptr || !Intersect(*owned, m.pending_revocation).empty()) return;
    SetHeld(m, m.assigned, {});
    m.revocation_deadline_ms = 0;
    m.state = MemberState::kStable;
  }
  if (m.state == MemberState::kStable && m.member_epoch == assignment_epoch_) return;
  const TopicPartitions& target = TargetOf(m.member_id);
  TopicPartitions keep = Intersect(m.assigned, target);
  TopicPartitions revoke = Minus(m.assigned, target);
  // A classic member's JoinGroup lists what it still owns: partitions to give up that it does
  // not list are given up already (an eager member gives up everything before it joins again).
  // A consumer-protocol member confirms in a later heartbeat.
  const bool given_up = m.classic.has_value() && owned != nullptr && Intersect(*owned, revoke).empty();
  if (!revoke.empty() && !given_up) {
    SetHeld(m, std::move(keep), std::move(revoke));
    m.state = MemberState::kUnrevokedPartitions;
    m.revocation_deadline_ms = now_ms + m.rebalance_timeout_ms;
    return;
  }
  bool unreleased = false;
  for (const auto& [topic, parts] : Minus(target, m.assigned)) {
    for (std::int32_t p : parts) {
      if (HeldByOther(topic, p, m.member_id)) {
        unreleased = true;
      } else {
        keep[topic].insert(p);
      }
    }
  }
  SetHeld(m, std::move(keep), {});
  if (m.member_epoch != assignment_epoch_) {
    m.previous_member_epoch = m.member_epoch;
    m.member_epoch = assignment_epoch_;
  }
  m.state = unreleased ? MemberState::kUnreleasedPartitions : MemberState::kStable;
}

void ConsumerGroup::SetHeld(ConsumerMember& member, TopicPartitions assigned,
                            TopicPartitions pending) {
  Release(member);
  std::erase_if(assigned, [](const auto& e) { return e.second.empty(); });
  std::erase_if(pending, [](const auto& e) { return e.second.empty(); });
  member.assigned = std::move(assigned);
  member.pending_revocation = std::move(pending);
  for (const TopicPartitions* held : {&member.assigned, &member.pending_revocation}) {
    for (const auto& [topic, parts] : *held) {
      for (std::int32_t p : parts) owners_[{topic, p}] = member.member_id;
    }
  }
}

void ConsumerGroup::Release(const ConsumerMember& member) {
  for (const TopicPartitions* held : {&member.assigned, &member.pending_revocation}) {
    for (const auto& [topic, parts] : *held) {
      for (std::int32_t p : parts) {
        const auto it = owners_.find({topic, p});
        if (it != owners_.end() && it->second == member.member_id) owners_.erase(it);
      }
    }
  }
}

bool ConsumerGroup::HeldByOther(const kafka::Uuid& topic, std::int32_t partition,
                                const std::string& member_id) const {
  const auto it = owners_.find({topic, partition});
  return it != owners_.end() && it->second != member_id;
}

}  // namespace tern::broker::group
