#include "broker/group/consumer_membership.h"

#include "broker/group/consumer_group_records.h"
#include "broker/group/consumer_protocol.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;

// How often sessions and revocation deadlines are checked.
constexpr auto kExpiryTick = std::chrono::milliseconds(250);
// ConsumerGroupHeartbeat v1 members make their own ids.
constexpr std::int16_t kFirstClientMemberIdVersion = 1;
// OffsetCommit v9 is the first a consumer-protocol member may commit with.
constexpr std::int16_t kFirstMemberEpochCommitVersion = 9;
constexpr std::int32_t kLeaveEpoch = -1;

ConsumerHeartbeatResult Fail(E error, std::string message) {
  ConsumerHeartbeatResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

// The request's own faults, as Kafka words them; an empty message when there is none.
std::string InvalidRequest(const ConsumerHeartbeatRequest& r) {
  if (r.group_id.empty()) return "GroupId can't be empty.";
  if (r.instance_id.has_value() && r.instance_id->empty()) return "InstanceId can't be empty.";
  if (r.rack_id.has_value() && r.rack_id->empty()) return "RackId can't be empty.";
  if (r.member_epoch == 0) {
    if (r.version >= kFirstClientMemberIdVersion && r.member_id.empty()) {
      return "MemberId can't be empty.";
    }
    if (r.rebalance_timeout_ms == -1) return "RebalanceTimeoutMs must be provided in first request.";
    if (!r.owned.has_value() || !r.owned->empty()) {
      return "TopicPartitions must be empty when (re-)joining.";
    }
    if (!r.subscribed_topic_names.has_value() && !r.subscribed_topic_regex.has_value()) {
      return "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.";
    }
    return {};
  }
  if (r.member_id.empty()) return "MemberId can't be empty.";
  if (r.member_epoch == kStaticLeaveEpoch && !r.instance_id.has_value()) {
    return "InstanceId can't be null.";
  }
  if (r.member_epoch < kStaticLeaveEpoch) return "MemberEpoch is invalid.";
  return {};
}

std::string NotAMember(const std::string& member, const std::string& group) {
  return "Member " + member + " is not a member of group " + group + ".";
}

std::int8_t StateCode(MemberState s) {
  switch (s) {
    case MemberState::kStable: return 0;
    case MemberState::kUnrevokedPartitions: return 1;
    case MemberState::kUnreleasedPartitions: return 2;
  }
  return 0;
}

MemberState StateFromCode(std::int8_t code) {
  if (code == 1) return MemberState::kUnrevokedPartitions;
  if (code == 2) return MemberState::kUnreleasedPartitions;
  return MemberState::kStable;
}

MemberMetadataValue MetadataOf(const ConsumerMember& m) {
  MemberMetadataValue v;
  v.instance_id = m.instance_id;
  v.rack_id = m.rack_id;
  v.client_id = m.client_id;
  v.client_host = m.client_host;
  v.subscribed_topic_names = m.subscribed_topic_names;
  v.subscribed_topic_regex = m.subscribed_topic_regex;
  v.rebalance_timeout_ms = m.rebalance_timeout_ms;
  v.server_assignor = m.server_assignor;
  v.classic = m.classic;
  return v;
}

MemberAssignmentValue AssignmentOf(const ConsumerMember& m) {
  MemberAssignmentValue v;
  v.member_epoch = m.member_epoch;
  v.previous_member_epoch = m.previous_member_epoch;
  v.state = StateCode(m.state);
  v.assigned = m.assigned;
  v.pending_revocation = m.pending_revocation;
  return v;
}

std::string Key(ConsumerRecordType type, const std::string& group,
                const std::string& member = {}) {
  return EncodeConsumerRecordKey(type, group, member);
}

// One group's records, decoded by kind.
struct DecodedGroup {
  std::int32_t group_epoch = 0;
  std::int32_t assignment_epoch = 0;
  std::map<std::string, MemberMetadataValue> metadata;  // by member id
  std::map<std::string, TopicPartitions> targets;
  std::map<std::string, MemberAssignmentValue> current;
  std::size_t bad = 0;  // records that could not be decoded
};

DecodedGroup DecodeGroupRecords(const std::map<std::string, std::string>& keyed) {
  DecodedGroup d;
  for (const auto& [key_bytes, value] : keyed) {
    auto key = DecodeConsumerRecordKey(key_bytes);
    if (!key.ok()) {
      ++d.bad;
      continue;
    }
    const std::string& member = key.value().member;
    auto keep = [&](auto decoded, auto& into) {
      if (!decoded.ok()) return false;
      into[member] = std::move(decoded).value();
      return true;
    };
    auto epoch = [&](std::int32_t* into) {
      auto decoded = DecodeEpochValue(value);
      if (decoded.ok()) *into = decoded.value();
      return decoded.ok();
    };
    bool ok = true;
    switch (key.value().type) {
      case ConsumerRecordType::kGroupMetadata: ok = epoch(&d.group_epoch); break;
      case ConsumerRecordType::kTargetAssignmentMetadata: ok = epoch(&d.assignment_epoch); break;
      case ConsumerRecordType::kMemberMetadata:
        ok = keep(DecodeMemberMetadataValue(value), d.metadata);
        break;
      case ConsumerRecordType::kTargetAssignmentMember:
        ok = keep(DecodeTargetAssignmentValue(value), d.targets);
        break;
      case ConsumerRecordType::kCurrentMemberAssignment:
        ok = keep(DecodeMemberAssignmentValue(value), d.current);
        break;
      default:
        break;  // partition metadata, regular expressions: not used here
    }
    if (!ok) ++d.bad;
  }
  return d;
}

}  // namespace

std::int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ConsumerMembership::ConsumerMembership(const Topics& topics, const ConsumerProtocolConfig& config,
                                       asio::any_io_executor executor)
    : topics_(topics), config_(config), timer_(std::move(executor)) {}

void ConsumerMembership::Start(std::function<void()> flush) {
  flush_ = std::move(flush);
  asio::co_spawn(timer_.get_executor(), ExpiryLoop(), asio::detached);
}

std::vector<GroupRecord> ConsumerMembership::TakeRecords() {
  std::vector<GroupRecord> out;
  out.swap(outbox_);
  return out;
}

void ConsumerMembership::Emit(const std::string& group, std::string key,
                              std::optional<std::string> value) {
  outbox_.push_back(GroupRecord{group, std::move(key), std::move(value)});
}

void ConsumerMembership::Rebalance(ConsumerGroup& group) {
  std::map<std::string, TopicPartitions> before;
  for (const auto& [id, m] : group.members()) before[id] = group.TargetOf(id);
  group.BumpEpochAndAssign();
  Emit(group.id(), Key(ConsumerRecordType::kGroupMetadata, group.id()),
       EncodeEpochValue(group.group_epoch()));
  for (const auto& [id, m] : group.members()) {
    const TopicPartitions& target = group.TargetOf(id);
    if (target != before[id]) {  // a member without a record has an empty target
      Emit(group.id(), Key(ConsumerRecordType::kTargetAssignmentMember, group.id(), id),
           EncodeTargetAssignmentValue(target));
    }
  }
  Emit(group.id(), Key(ConsumerRecordType::kTargetAssignmentMetadata, group.id()),
       EncodeEpochValue(group.assignment_epoch()));
}

void ConsumerMembership::RecordMetadata(const ConsumerGroup& group, ConsumerMember& m) {
  std::string value = EncodeMemberMetadataValue(MetadataOf(m));
  if (value == m.written_metadata) return;
  m.written_metadata = value;
  Emit(group.id(), Key(ConsumerRecordType::kMemberMetadata, group.id(), m.member_id),
       std::move(value));
}

void ConsumerMembership::RecordAssignment(const ConsumerGroup& group, ConsumerMember& m) {
  std::string value = EncodeMemberAssignmentValue(AssignmentOf(m));
  if (value == m.written_assignment) return;
  m.written_assignment = value;
  Emit(group.id(), Key(ConsumerRecordType::kCurrentMemberAssignment, group.id(), m.member_id),
       std::move(value));
}

ConsumerMember& ConsumerMembership::ReplaceStatic(ConsumerGroup& group, const std::string& old_id,
                                                  ConsumerMember member) {
  const std::string gone = old_id;  // a reference into the member replaced below
  ConsumerMember& m = group.Replace(gone, std::move(member));
  for (auto type : {ConsumerRecordType::kCurrentMemberAssignment,
                    ConsumerRecordType::kTargetAssignmentMember,
                    ConsumerRecordType::kMemberMetadata}) {
    Emit(group.id(), Key(type, group.id(), gone), std::nullopt);
  }
  Emit(group.id(), Key(ConsumerRecordType::kTargetAssignmentMember, group.id(), m.member_id),
       EncodeTargetAssignmentValue(group.TargetOf(m.member_id)));
  return m;
}

void ConsumerMembership::RemoveMember(ConsumerGroup& group, const std::string& member_id) {
  const std::string id = member_id;  // it may be the id of the member removed below
  group.Remove(id);
  for (auto type : {ConsumerRecordType::kCurrentMemberAssignment,
                    ConsumerRecordType::kTargetAssignmentMember,
                    ConsumerRecordType::kMemberMetadata}) {
    Emit(group.id(), Key(type, group.id(), id), std::nullopt);
  }
}

std::size_t ConsumerMembership::Load(
    const std::map<std::string, std::map<std::string, std::string>>& records) {
  const std::int64_t now = SteadyNowMs();
  std::size_t members = 0;
  for (const auto& [group_id, keyed] : records) {
    DecodedGroup d = DecodeGroupRecords(keyed);
    const std::int32_t group_epoch = d.group_epoch;
    const std::int32_t assignment_epoch = d.assignment_epoch;
    auto& metadata = d.metadata;
    auto& targets = d.targets;
    auto& current = d.current;
    const std::size_t bad = d.bad;
    if (bad > 0) {
      spdlog::warn("group {}: skipped {} consumer group record(s) that cannot be decoded",
                   group_id, bad);
    }
    if (group_epoch == 0 && metadata.empty()) continue;
    auto group = std::make_unique<ConsumerGroup>(group_id);
    std::erase_if(targets, [&](const auto& e) { return !metadata.contains(e.first); });
    group->Restore(group_epoch, assignment_epoch, std::move(targets));
    for (auto& [member_id, v] : metadata) {
      ConsumerMember m;
      m.member_id = member_id;
      m.instance_id = v.instance_id;
      m.rack_id = v.rack_id;
      m.client_id = v.client_id;
      m.client_host = v.client_host;
      m.subscribed_topic_names = v.subscribed_topic_names;
      m.subscribed_topic_regex = v.subscribed_topic_regex;
      if (v.subscribed_topic_regex.has_value()) {
        try {
          m.regex = std::make_shared<const std::regex>(*v.subscribed_topic_regex);
        } catch (const std::regex_error&) {
          m.subscribed_topic_regex.reset();
        }
      }
      m.rebalance_timeout_ms = v.rebalance_timeout_ms;
      m.server_assignor = v.server_assignor;
      m.classic = v.classic;
      if (m.classic.has_value() && !m.classic->protocols.empty()) {
        m.classic_protocol = m.classic->protocols.front().first;
        m.assignment_version = AssignmentVersionFor(m.classic->protocols.front().second);
      }
      m.written_metadata = EncodeMemberMetadataValue(v);
      if (const auto c = current.find(member_id); c != current.end()) {
        m.member_epoch = c->second.member_epoch;
        m.previous_member_epoch = c->second.previous_member_epoch;
        m.state = StateFromCode(c->second.state);
        m.assigned = c->second.assigned;
        m.pending_revocation = c->second.pending_revocation;
        m.written_assignment = EncodeMemberAssignmentValue(c->second);
      }
      m.session_deadline_ms = now + SessionTimeoutOf(m);
      if (m.state == MemberState::kUnrevokedPartitions && !m.classic.has_value()) {
        m.revocation_deadline_ms = now + m.rebalance_timeout_ms;
      }
      group->RestoreMember(std::move(m));
      ++members;
    }
    // The subscriptions are resolved against the topics as they are now; when partitions came
    // or went while the broker was down, the group rebalances at once (what stays keeps its
    // place).
    for (const auto& [member_id, m] : group->members()) {
      group->Find(member_id)->topics = Subscription(m);
    }
    RefreshTopics(*group);
    if (!group->empty() && !TargetsCoverTopics(*group)) Rebalance(*group);
    groups_[group_id] = std::move(group);
  }
  return members;
}

void ConsumerMembership::Stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> ConsumerMembership::ExpiryLoop() {
  while (!stopped_) {
    timer_.expires_after(kExpiryTick);
    std::error_code ignored;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (stopped_) break;
    ExpireMembers(SteadyNowMs());
    if ((!outbox_.empty() || !downgradable_.empty()) && flush_) flush_();
  }
}

void ConsumerMembership::ExpireMembers(std::int64_t now_ms) {
  for (auto& [group_id, group] : groups_) {
    std::vector<std::pair<std::string, const char*>> gone;
    for (const auto& [id, m] : group->members()) {
      if (now_ms > m.session_deadline_ms) {
        gone.emplace_back(id, "its session timed out");
      } else if (m.revocation_deadline_ms != 0 && now_ms > m.revocation_deadline_ms) {
        gone.emplace_back(id, "it did not revoke its partitions within its rebalance timeout");
      } else if (m.sync_deadline_ms != 0 && now_ms > m.sync_deadline_ms) {
        gone.emplace_back(id, "it did not send SyncGroup within its rebalance timeout");
      } else if (m.join_deadline_ms != 0 && now_ms > m.join_deadline_ms) {
        gone.emplace_back(id, "it did not join again within its rebalance timeout");
      }
    }
    if (gone.empty()) continue;
    for (const auto& [id, why] : gone) {
      spdlog::info("group {}: member {} removed: {}", group_id, id, why);
      RemoveMember(*group, id);
    }
    AfterRemovals(*group);
  }
}

void ConsumerMembership::AfterRemovals(ConsumerGroup& group) {
  RefreshTopics(group);
  // Left with classic members only, the group goes back to the classic protocol at its
  // epoch (the coordinator does it before anything else reaches the group), and rebalances
  // there; else it rebalances here.
  if (config_.online_downgrade && group.AllClassic() &&
      group.members().size() <= static_cast<std::size_t>(config_.classic_max_size)) {
    downgradable_.insert(group.id());
    return;
  }
  Rebalance(group);
}

std::set<std::string> ConsumerMembership::TakeDowngradable() {
  std::set<std::string> out;
  out.swap(downgradable_);
  std::erase_if(out, [&](const std::string& id) {
    const ConsumerGroup* g = Find(id);
    return g == nullptr || !g->AllClassic();
  });
  return out;
}

std::int32_t ConsumerMembership::SessionTimeoutOf(const ConsumerMember& m) const {
  return m.classic.has_value() ? m.classic->session_timeout_ms : config_.session_timeout_ms;
}

ConsumerGroup* ConsumerMembership::Find(const std::string& group_id) const {
  const auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void ConsumerMembership::Forget(const std::string& group_id) {
  const auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  // Tombstones of everything the group wrote, in Kafka's order.
  const ConsumerGroup& g = *it->second;
  for (auto type : {ConsumerRecordType::kCurrentMemberAssignment,
                    ConsumerRecordType::kTargetAssignmentMember}) {
    for (const auto& [id, m] : g.members()) Emit(group_id, Key(type, group_id, id), std::nullopt);
  }
  Emit(group_id, Key(ConsumerRecordType::kTargetAssignmentMetadata, group_id), std::nullopt);
  for (const auto& [id, m] : g.members()) {
    Emit(group_id, Key(ConsumerRecordType::kMemberMetadata, group_id, id), std::nullopt);
  }
  Emit(group_id, Key(ConsumerRecordType::kPartitionMetadata, group_id), std::nullopt);
  Emit(group_id, Key(ConsumerRecordType::kGroupMetadata, group_id), std::nullopt);
  groups_.erase(it);
}

bool ConsumerMembership::Resolve(ConsumerGroup& group, ConsumerMember& member) const {
  std::set<std::string> resolved = Subscription(member);
  if (resolved == member.topics) return RefreshTopics(group);
  member.topics = std::move(resolved);
  RefreshTopics(group);
  return true;
}

std::set<std::string> ConsumerMembership::Subscription(const ConsumerMember& member) const {
  std::set<std::string> resolved;
  for (const std::string& name : member.subscribed_topic_names) {
    if (topics_.Find(name) != nullptr) resolved.insert(name);
  }
  if (member.regex != nullptr) {
    for (const Topic* t : topics_.All()) {
      if (!t->internal && std::regex_match(t->name, *member.regex)) resolved.insert(t->name);
    }
  }
  return resolved;
}

bool ConsumerMembership::TargetsCoverTopics(const ConsumerGroup& group) const {
  std::set<std::pair<kafka::Uuid, std::int32_t>> targeted;
  for (const auto& [id, m] : group.members()) {
    for (const auto& [topic, parts] : group.TargetOf(id)) {
      for (std::int32_t p : parts) targeted.emplace(topic, p);
    }
  }
  std::size_t expected = 0;
  for (const auto& [name, t] : group.subscribed_topics()) {
    for (std::int32_t p = 0; p < t.partitions; ++p) {
      if (!targeted.contains({t.id, p})) return false;
    }
    expected += static_cast<std::size_t>(t.partitions);
  }
  return targeted.size() == expected;
}

bool ConsumerMembership::RefreshTopics(ConsumerGroup& group) const {
  std::map<std::string, SubscribedTopic> metadata;
  for (const auto& [id, m] : group.members()) {
    for (const std::string& name : m.topics) {
      if (metadata.contains(name)) continue;
      if (const Topic* t = topics_.Find(name)) {
        metadata[name] = {t->id, static_cast<std::int32_t>(t->partitions.size())};
      }
    }
  }
  return group.SetSubscribedTopics(std::move(metadata));
}

std::optional<ConsumerHeartbeatResult> ConsumerMembership::CheckRequest(
    const ConsumerHeartbeatRequest& r, std::shared_ptr<const std::regex>* regex) const {
  if (std::string why = InvalidRequest(r); !why.empty()) return Fail(E::kInvalidRequest, why);
  if (r.server_assignor.has_value() && !KnownAssignor(*r.server_assignor)) {
    return Fail(E::kUnsupportedAssignor, "ServerAssignor " + *r.server_assignor +
                                             " is not supported. Supported assignors: " +
                                             std::string(kUniformAssignor) + ", " +
                                             std::string(kRangeAssignor) + ".");
  }
  if (r.subscribed_topic_regex.has_value() && !r.subscribed_topic_regex->empty()) {
    try {
      *regex = std::make_shared<const std::regex>(*r.subscribed_topic_regex);
    } catch (const std::regex_error& e) {
      return Fail(E::kInvalidRegularExpression,
                  "SubscribedTopicRegex `" + *r.subscribed_topic_regex + "` is not a valid regular expression: " + e.what() + ".");
    }
  }
  return std::nullopt;
}

std::optional<ConsumerHeartbeatResult> ConsumerMembership::UpgradeJoinError(
    const ConsumerHeartbeatRequest& r, std::size_t members, bool takes_a_place,
    bool instance_taken) const {
  std::shared_ptr<const std::regex> regex;
  if (auto refused = CheckRequest(r, &regex)) return refused;
  // A static member's classic incarnation is still a member: it has not left for now, so its
  // place is not released (it is once its session ends or it leaves).
  if (instance_taken) {
    return Fail(E::kUnreleasedInstanceId, "Static member with instance id " +
                                              r.instance_id.value_or("") +
                                              " is not released yet.");
  }
  if (!takes_a_place && members >= static_cast<std::size_t>(config_.max_size)) {
    return Fail(E::kGroupMaxSizeReached, "The consumer group has reached its maximum capacity of " +
                                             std::to_string(config_.max_size) + " members.");
  }
  return std::nullopt;
}

ConsumerHeartbeatResult ConsumerMembership::Heartbeat(const ConsumerHeartbeatRequest& r) {
  std::shared_ptr<const std::regex> regex;
  if (auto refused = CheckRequest(r, &regex)) return *refused;
  if (r.member_epoch == kLeaveEpoch || r.member_epoch == kStaticLeaveEpoch) return Leave(r);

  const std::int64_t now = SteadyNowMs();
  ConsumerGroup* group = Find(r.group_id);
  if (group == nullptr) {
    if (r.member_epoch != 0) return Fail(E::kUnknownMemberId, NotAMember(r.member_id, r.group_id));
    group = groups_.emplace(r.group_id, std::make_unique<ConsumerGroup>(r.group_id))
                .first->second.get();
  }

  ConsumerMember* m = nullptr;
  bool rebalance = false;
  if (r.member_epoch == 0) {
    const std::string id = r.member_id.empty() ? RandomUuidText() : r.member_id;
    m = group->Find(id);
    if (m != nullptr) {
      group->ResetAssignment(*m);  // it lost its partitions and joins again
      m->classic.reset();          // with the consumer protocol
      m->sync_deadline_ms = 0;
      m->join_deadline_ms = 0;
    } else {
      ConsumerMember fresh;
      fresh.member_id = id;
      fresh.instance_id = r.instance_id;
      ConsumerMember* old = r.instance_id ? group->FindByInstance(*r.instance_id) : nullptr;
      if (old != nullptr) {
        if (old->member_epoch != kStaticLeaveEpoch) {
          return Fail(E::kUnreleasedInstanceId, "Static member " + old->member_id +
                                                    " with instance id " + *r.instance_id +
                                                    " is not released yet.");
        }
        fresh.subscribed_topic_names = old->subscribed_topic_names;
        fresh.subscribed_topic_regex = old->subscribed_topic_regex;
        fresh.regex = old->regex;
        fresh.server_assignor = old->server_assignor;
        fresh.topics = old->topics;
        m = &ReplaceStatic(*group, old->member_id, std::move(fresh));
      } else {
        if (group->members().size() >= static_cast<std::size_t>(config_.max_size)) {
          return Fail(E::kGroupMaxSizeReached,
                      "The consumer group has reached its maximum capacity of " +
                          std::to_string(config_.max_size) + " members.");
        }
        m = &group->Add(std::move(fresh));
        rebalance = true;
      }
    }
  } else {
    m = group->Find(r.member_id);
    if (m == nullptr) return Fail(E::kUnknownMemberId, NotAMember(r.member_id, r.group_id));
    if (r.instance_id.has_value() && m->instance_id != r.instance_id) {
      return Fail(E::kFencedInstanceId, "Static member " + r.member_id + " of group " +
                                            r.group_id + " was fenced by another instance.");
    }
    if (r.member_epoch != m->member_epoch) {
      // The previous epoch is taken from a member whose last answer was lost: it owns no more
      // than it was given.
      const bool lost_answer = r.member_epoch == m->previous_member_epoch &&
                               r.owned.has_value() && Contains(m->assigned, *r.owned);
      if (!lost_answer) {
        return Fail(E::kFencedMemberEpoch,
                    "The consumer group member has a " +
                        std::string(r.member_epoch < m->member_epoch ? "smaller" : "greater") +
                        " member epoch (" + std::to_string(r.member_epoch) +
                        ") than the one known by the group coordinator (" +
                        std::to_string(m->member_epoch) + ").");
      }
    }
  }

  if (r.rebalance_timeout_ms != -1) m->rebalance_timeout_ms = r.rebalance_timeout_ms;
  if (r.rack_id.has_value()) m->rack_id = r.rack_id;
  if (r.subscribed_topic_names.has_value()) {
    std::vector<std::string> names = SortedTopicNames(*r.subscribed_topic_names);
    if (names != m->subscribed_topic_names) m->subscribed_topic_names = std::move(names);
  }
  if (r.subscribed_topic_regex.has_value()) {
    std::optional<std::string> wanted;
    if (!r.subscribed_topic_regex->empty()) wanted = r.subscribed_topic_regex;
    if (wanted != m->subscribed_topic_regex) {
      m->subscribed_topic_regex = std::move(wanted);
      m->regex = regex;
    }
  }
  if (r.server_assignor.has_value() && r.server_assignor != m->server_assignor) {
    m->server_assignor = r.server_assignor;
    rebalance = true;
  }
  m->client_id = r.client_id;
  m->client_host = r.client_host;
  m->session_deadline_ms = now + config_.session_timeout_ms;
  if (Resolve(*group, *m)) rebalance = true;
  RecordMetadata(*group, *m);
  if (rebalance) Rebalance(*group);

  const TopicPartitions before = m->assigned;
  group->Reconcile(*m, r.owned ? &*r.owned : nullptr, now);
  RecordAssignment(*group, *m);

  ConsumerHeartbeatResult out;
  out.member_id = m->member_id;
  out.member_epoch = m->member_epoch;
  out.heartbeat_interval_ms = config_.heartbeat_interval_ms;
  const bool full_request = r.member_epoch == 0 ||
                            (r.rebalance_timeout_ms != -1 &&
                             (r.subscribed_topic_names.has_value() ||
                              r.subscribed_topic_regex.has_value()) &&
                             r.owned.has_value());
  if (full_request || m->assigned != before) out.assignment = m->assigned;
  return out;
}

ConsumerHeartbeatResult ConsumerMembership::Leave(const ConsumerHeartbeatRequest& r) {
  ConsumerGroup* group = Find(r.group_id);
  ConsumerMember* m = group == nullptr ? nullptr : group->Find(r.member_id);
  if (m == nullptr && group != nullptr && r.instance_id.has_value()) {
    m = group->FindByInstance(*r.instance_id);
  }
  if (m == nullptr) return Fail(E::kUnknownMemberId, NotAMember(r.member_id, r.group_id));
  ConsumerHeartbeatResult out;
  out.member_id = r.member_id;
  out.member_epoch = r.member_epoch;
  out.heartbeat_interval_ms = 0;
  if (r.member_epoch == kStaticLeaveEpoch && m->instance_id.has_value()) {
    // It keeps its place and partitions until its session ends, to come back as itself.
    if (m->member_epoch != kStaticLeaveEpoch) {
      m->previous_member_epoch = m->member_epoch;
      m->member_epoch = kStaticLeaveEpoch;
    }
    m->session_deadline_ms = SteadyNowMs() + config_.session_timeout_ms;
    RecordAssignment(*group, *m);
    return out;
  }
  out.member_epoch = kLeaveEpoch;
  spdlog::debug("group {}: member {} left", r.group_id, m->member_id);
  RemoveMember(*group, m->member_id);
  AfterRemovals(*group);
  return out;
}

kafka::ErrorCode ConsumerMembership::ValidateCommit(const ConsumerGroup& group,
                                                    const std::string& member_id,
                                                    std::int32_t member_epoch,
                                                    std::int16_t version,
                                                    bool transactional) const {
  if (member_epoch < 0 && group.empty()) return E::kNone;
  const ConsumerMember* m = group.Find(member_id);
  if (m == nullptr) return E::kUnknownMemberId;
  // A classic member commits with its generation, which is its epoch, in any version.
  if (m->classic.has_value()) {
    return member_epoch == m->member_epoch ? E::kNone : E::kIllegalGeneration;
  }
  if (!transactional && version < kFirstMemberEpochCommitVersion) return E::kUnsupportedVersion;
  // The member commits again once it knows its new epoch; a transactional commit of another
  // epoch is ILLEGAL_GENERATION, as for a classic member.
  if (member_epoch != m->member_epoch) {
    return transactional ? E::kIllegalGeneration : E::kStaleMemberEpoch;
  }
  return E::kNone;
}

kafka::ErrorCode ConsumerMembership::ValidateFetch(const ConsumerGroup& group,
                                                   const std::optional<std::string>& member_id,
                                                   std::int32_t member_epoch) const {
  // Without a member (the admin client, older requests) the committed offsets are anyone's.
  if (!member_id.has_value() || (member_id->empty() && member_epoch < 0)) return E::kNone;
  const ConsumerMember* m = group.Find(*member_id);
  if (m == nullptr) return E::kUnknownMemberId;
  if (member_epoch != m->member_epoch) return E::kStaleMemberEpoch;
  return E::kNone;
}

}  // namespace tern::broker::group
