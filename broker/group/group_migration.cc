// GroupCoordinator: the classic protocol's requests, routed to a classic group or to a consumer
// group that has classic members, and groups moving between the two protocols with their
// members in them (KIP-848's online upgrade and downgrade, group.consumer.migration.policy).
//
// Upgrade: a member joining a classic group with members through ConsumerGroupHeartbeat turns
// it into a consumer group at the classic generation, each classic member keeping its
// partitions as both its assignment and its target; then the new member joins and the group
// rebalances, the classic members being told to join again by their heartbeats.
// Downgrade: when the last member of the consumer protocol leaves a group and only classic
// members remain, the group becomes a classic group at its epoch, each member assigned its
// target, and rebalances at once so that its members join again and a leader assigns.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "broker/group/consumer_protocol.h"
#include "broker/group/group_coordinator.h"
#include "broker/storage/log_config.h"

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;

ConsumerHeartbeatResult UpgradeRefused(const std::string& group, const std::string& why) {
  ConsumerHeartbeatResult r;
  r.error = E::kGroupIdNotFound;
  r.message = "Cannot upgrade classic group " + group + " to consumer group because " + why + ".";
  return r;
}

// The protocol a group back in the classic protocol uses: of those every member supports, the
// one most members prefer (each votes for the first of its own list), as Kafka chooses.
std::optional<std::string> VoteProtocol(const ConsumerGroup& group) {
  std::optional<std::set<std::string>> common;
  for (const auto& [id, m] : group.members()) {
    std::set<std::string> names;
    for (const auto& [name, metadata] : m.classic->protocols) names.insert(name);
    if (!common.has_value()) {
      common = std::move(names);
      continue;
    }
    std::erase_if(*common, [&](const std::string& n) { return !names.contains(n); });
  }
  if (!common.has_value() || common->empty()) return std::nullopt;
  std::map<std::string, int> votes;
  for (const auto& [id, m] : group.members()) {
    for (const auto& [name, metadata] : m.classic->protocols) {
      if (common->contains(name)) {
        ++votes[name];
        break;
      }
    }
  }
  const auto best = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) {
    return a.second < b.second;
  });
  return best->first;
}

std::string MetadataFor(const ClassicMemberMetadata& classic, const std::string& protocol) {
  for (const auto& [name, metadata] : classic.protocols) {
    if (name == protocol) return metadata;
  }
  return {};
}

}  // namespace

std::optional<ConsumerHeartbeatResult> GroupCoordinator::Upgrade(const ClassicGroup& g) {
  const std::string id = g.id();
  if (!config_.consumer.online_upgrade) return UpgradeRefused(id, "online upgrade is disabled");
  if (g.protocol_type() != kConsumerProtocolType) {
    return UpgradeRefused(id, "the group does not use the consumer embedded protocol");
  }
  if (g.members().size() > static_cast<std::size_t>(config_.consumer.max_size)) {
    return UpgradeRefused(id, "the group size exceeds the consumer group maximum size");
  }
  const std::string malformed = "the embedded consumer protocol is malformed";
  if (!g.protocol_name().has_value()) return UpgradeRefused(id, malformed);
  std::vector<ConsumerMember> members;
  for (const auto& m : g.members()) {
    const std::string metadata = m->MetadataFor(g.protocol_name());
    const auto subscription = DecodeConsumerSubscription(metadata);
    if (!subscription.has_value()) return UpgradeRefused(id, malformed);
    NamedPartitions assigned;
    if (!m->assignment.empty()) {  // a member that joined but never synced holds nothing
      const auto assignment = DecodeConsumerAssignment(m->assignment);
      if (!assignment.has_value()) return UpgradeRefused(id, malformed);
      if (assignment->user_data.has_value() && !assignment->user_data->empty()) {
        return UpgradeRefused(id,
                              "an unsupported custom assignor is in use. Please refer to the "
                              "documentation or switch to a default assignor before "
                              "re-attempting the upgrade");
      }
      assigned = assignment->partitions;
    }
    ConsumerMember c;
    c.member_id = m->id;
    c.instance_id = m->instance_id;
    c.rack_id = subscription->rack_id;
    c.client_id = m->client_id;
    c.client_host = m->client_host;
    c.rebalance_timeout_ms = m->rebalance_timeout_ms;
    c.subscribed_topic_names = SortedTopicNames(subscription->topics);
    ClassicMemberMetadata classic;
    classic.session_timeout_ms = m->session_timeout_ms;
    for (const auto& p : m->protocols) classic.protocols.emplace_back(p.name, p.metadata);
    c.classic = std::move(classic);
    c.classic_protocol = *g.protocol_name();
    c.assignment_version = AssignmentVersionFor(metadata);
    c.assigned = ToTopicIds(topics_, assigned);
    members.push_back(std::move(c));
  }
  const std::int32_t generation = g.generation();
  const std::string state(GroupStateName(g.state()));
  membership_.TakeOver(id);  // `g` is gone
  consumers_.Adopt(id, generation, std::move(members));
  spdlog::info("group {}: moved to the consumer protocol at generation {} (it was {}); its "
               "classic members stay in it",
               id, generation, state);
  return std::nullopt;
}

void GroupCoordinator::DowngradeGroups() {
  for (const std::string& id : consumers_.TakeDowngradable()) {
    if (const ConsumerGroup* g = consumers_.Find(id)) Downgrade(*g);
  }
}

void GroupCoordinator::Downgrade(const ConsumerGroup& g) {
  const std::string id = g.id();
  const auto protocol = VoteProtocol(g);
  if (!protocol.has_value()) {
    spdlog::warn("group {}: its classic members share no protocol; it stays a consumer group",
                 id);
    consumers_.Rebalance(*consumers_.Find(id));
    return;
  }
  GroupMetadataValue value;
  value.protocol_type = std::string(kConsumerProtocolType);
  value.generation = g.group_epoch();
  value.protocol = *protocol;
  value.current_state_timestamp_ms = storage::SystemClockMs();
  std::map<std::string, std::vector<JoinProtocol>> protocols;
  for (const auto& [member_id, m] : g.members()) {
    GroupMemberMetadata gm;
    gm.member_id = member_id;
    gm.group_instance_id = m.instance_id;
    gm.client_id = m.client_id;
    gm.client_host = m.client_host;
    gm.rebalance_timeout_ms = m.rebalance_timeout_ms;
    gm.session_timeout_ms = m.classic->session_timeout_ms;
    gm.subscription = MetadataFor(*m.classic, *protocol);
    gm.assignment = EncodeConsumerAssignment(ToTopicNames(topics_, g.TargetOf(member_id)),
                                             AssignmentVersionFor(gm.subscription));
    value.members.push_back(std::move(gm));
    for (const auto& [name, metadata] : m.classic->protocols) {
      protocols[member_id].push_back(JoinProtocol{name, metadata});
    }
  }
  value.leader = value.members.front().member_id;
  consumers_.Forget(id);
  // The tombstones go before the classic group's record; the request that caused the
  // downgrade waits for them (and that record, in the same partition) to be durable.
  for (auto& [group, status] : FlushConsumerRecords()) {
    auto [it, fresh] = downgrade_appends_.emplace(group, status);
    if (!fresh && it->second.ok()) it->second = status;
  }
  membership_.Adopt(id, value, protocols);
  spdlog::info("group {}: moved back to the classic protocol at generation {} with {} members",
               id, value.generation, value.members.size());
}

asio::awaitable<Status> GroupCoordinator::WriteConsumerRecords(const std::string& group) {
  const auto written = FlushConsumerRecords();
  const auto it = written.find(group);
  if (it == written.end()) co_return Status::Ok();
  Status s = it->second;
  if (s.ok()) s = co_await offsets_->WaitDurable(group);
  co_return s;
}

JoinResult GroupCoordinator::ClassicJoin(const JoinRequest& r, bool& classic_group) {
  ConsumerGroup* g = r.group_id.empty() ? nullptr : consumers_.Find(r.group_id);
  if (g != nullptr && g->empty()) {
    consumers_.Forget(r.group_id);  // given up to the classic protocol
    FlushConsumerRecords();
    g = nullptr;
  }
  classic_group = g == nullptr;
  if (classic_group) return {};
  if (!Available(r.group_id)) return JoinResult::Error(E::kCoordinatorNotAvailable, r.member_id);
  if (r.session_timeout_ms < config_.membership.min_session_timeout_ms ||
      r.session_timeout_ms > config_.membership.max_session_timeout_ms) {
    return JoinResult::Error(E::kInvalidSessionTimeout, r.member_id);
  }
  return consumers_.ClassicJoin(r);
}

asio::awaitable<JoinResult> GroupCoordinator::Join(JoinRequest r) {
  bool classic_group = false;
  JoinResult result = ClassicJoin(r, classic_group);
  if (!classic_group) DowngradeGroups();  // a classic member took the last consumer one's place
  if (classic_group) {
    result = co_await membership_.Join(std::move(r));
  } else if (result.error == E::kNone) {
    const Status s = co_await WriteConsumerRecords(r.group_id);
    if (!s.ok()) result = JoinResult::Error(WriteError(s), r.member_id);
  }
  co_return result;
}

asio::awaitable<SyncResult> GroupCoordinator::Sync(SyncRequest r) {
  if (consumers_.Find(r.group_id) == nullptr) co_return co_await membership_.Sync(std::move(r));
  if (!Available(r.group_id)) co_return SyncResult{E::kCoordinatorNotAvailable, {}, {}, {}};
  co_return consumers_.ClassicSync(r);
}

asio::awaitable<kafka::ErrorCode> GroupCoordinator::Heartbeat(
    std::string group_id, std::int32_t generation, std::string member_id,
    std::optional<std::string> instance_id) {
  if (consumers_.Find(group_id) == nullptr) {
    co_return membership_.Heartbeat(group_id, generation, member_id, instance_id);
  }
  if (!Available(group_id)) co_return E::kCoordinatorNotAvailable;
  co_return consumers_.ClassicHeartbeat(group_id, generation, member_id, instance_id);
}

asio::awaitable<LeaveResult> GroupCoordinator::Leave(std::string group_id,
                                                     std::vector<LeavingMember> members) {
  if (consumers_.Find(group_id) == nullptr) co_return membership_.Leave(group_id, members);
  LeaveResult out;
  if (!Available(group_id)) {
    out.error = E::kCoordinatorNotAvailable;
    co_return out;
  }
  out = consumers_.ClassicLeave(group_id, members);
  DowngradeGroups();
  if (Status s = co_await WriteConsumerRecords(group_id); !s.ok()) out.error = WriteError(s);
  co_return out;
}

}  // namespace tern::broker::group
