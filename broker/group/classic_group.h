// ClassicGroup: the membership of one consumer group under the classic protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) — its state, generation, protocol, leader and members, with
// the rules that need no I/O: adding and replacing members, protocol selection by vote,
// leader election, generation changes, the member checks the APIs share. GroupMembership
// (group_membership.h) drives it and owns its timers' meaning; a member's timer, the group's
// join and sync timers and the waiters of parked JoinGroup/SyncGroup requests live here so that
// they go away with the member or group.
//
// States, as Kafka names them: Empty (no members) → PreparingRebalance (members (re)join) →
// CompletingRebalance (the leader computes assignments) → Stable; a rebalance starts again from
// CompletingRebalance or Stable. Dead is what a group that does not exist reports.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/group/group_metadata_record.h"
#include "kafka/error_code.h"

namespace tern::broker::group {

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };
std::string_view GroupStateName(GroupState state);

inline constexpr std::string_view kConsumerProtocolType = "consumer";

// A one-shot answer that a parked request waits for; Complete may come before or after Wait
// starts. Only the first Complete counts.
template <typename T>
class Waiter {
 public:
  explicit Waiter(asio::any_io_executor executor)
      : wake_(std::move(executor), asio::steady_timer::time_point::max()) {}

  bool done() const { return result_.has_value(); }
  void Complete(T value) {
    if (result_.has_value()) return;
    result_ = std::move(value);
    wake_.cancel();
  }
  static asio::awaitable<T> Wait(std::shared_ptr<Waiter> self) {
    while (!self->result_.has_value()) {
      std::error_code ignored;
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    co_return std::move(*self->result_);
  }

 private:
  asio::steady_timer wake_;
  std::optional<T> result_;
};

struct JoinProtocol {
  std::string name;
  std::string metadata;
  friend bool operator==(const JoinProtocol&, const JoinProtocol&) = default;
};

// What a JoinGroup answers.
struct JoinResult {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
  };
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::int32_t generation = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  bool skip_assignment = false;
  std::string member_id;
  std::vector<Member> members;  // the leader's answer only

  static JoinResult Error(kafka::ErrorCode error, std::string member_id = "") {
    JoinResult r;
    r.error = error;
    r.member_id = std::move(member_id);
    return r;
  }
};

// What a SyncGroup answers.
struct SyncResult {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string assignment;
};

struct Member {
  explicit Member(asio::any_io_executor executor) : heartbeat(std::move(executor)) {}

  std::string id;
  std::optional<std::string> instance_id;  // static membership (group.instance.id)
  std::string client_id;
  std::string client_host;
  std::int32_t rebalance_timeout_ms = 0;
  std::int32_t session_timeout_ms = 0;
  std::string protocol_type;
  std::vector<JoinProtocol> protocols;  // in the member's order of preference
  std::string assignment;
  bool is_new = false;  // joined, not yet through a completed join phase
  std::shared_ptr<Waiter<JoinResult>> join;  // set while its JoinGroup is parked
  std::shared_ptr<Waiter<SyncResult>> sync;  // set while its SyncGroup is parked
  asio::steady_timer heartbeat;              // session expiry
  std::uint64_t heartbeat_token = 0;         // which expiry is current

  // The member's metadata for `protocol`; empty when it does not support it.
  std::string MetadataFor(const std::optional<std::string>& protocol) const;
  // A member waiting for a rebalance counts as alive, unless it is new.
  bool SatisfiesHeartbeat() const { return !is_new && (join != nullptr || sync != nullptr); }
};

// A member that was given an id with MEMBER_ID_REQUIRED and has not joined with it yet.
struct PendingMember {
  explicit PendingMember(asio::any_io_executor executor) : expiry(std::move(executor)) {}
  asio::steady_timer expiry;
};

class ClassicGroup {
 public:
  ClassicGroup(std::string id, asio::any_io_executor executor, std::int64_t now_ms);
  // The group as a GroupMetadata record left it: Stable with its members, or Empty.
  static std::unique_ptr<ClassicGroup> FromRecord(std::string id, const GroupMetadataValue& value,
                                                  asio::any_io_executor executor);
  ClassicGroup(const ClassicGroup&) = delete;
  ClassicGroup& operator=(const ClassicGroup&) = delete;

  const std::string& id() const { return id_; }
  GroupState state() const { return state_; }
  GroupState previous_state() const { return previous_state_; }
  std::int32_t generation() const { return generation_; }
  const std::optional<std::string>& protocol_type() const { return protocol_type_; }
  const std::optional<std::string>& protocol_name() const { return protocol_name_; }
  const std::optional<std::string>& leader() const { return leader_; }
  std::int64_t state_timestamp_ms() const { return state_timestamp_ms_; }
  const std::vector<std::unique_ptr<Member>>& members() const { return members_; }
  bool empty() const { return members_.empty(); }
  // Topics the members subscribe to, from the consumer protocol's subscriptions; nullopt when
  // not known (another protocol type, or subscriptions that do not parse).
  const std::optional<std::set<std::string>>& subscribed_topics() const {
    return subscribed_topics_;
  }
  // Whether offsets of `topic` belong to the current subscription (Kafka's rule: when not
  // known, a consumer group is taken to subscribe to everything).
  bool IsSubscribedTo(const std::string& topic) const;

  Member* Find(std::string_view member_id) const;
  // The member id a static member's instance id maps to; null when unknown.
  Member* FindStatic(std::string_view instance_id) const;
  bool IsLeader(std::string_view member_id) const { return leader_ && *leader_ == member_id; }
  // NONE, or what Kafka answers a request naming these ids: UNKNOWN_MEMBER_ID for an unknown
  // member or instance id, FENCED_INSTANCE_ID when the instance id maps to another member.
  kafka::ErrorCode ValidateMember(std::string_view member_id,
                                  const std::optional<std::string>& instance_id) const;

  // Whether a member of this protocol type and protocols may join: in Empty, any type and at
  // least one protocol; otherwise the group's type and a protocol every member supports.
  bool SupportsProtocols(std::string_view protocol_type,
                         const std::vector<JoinProtocol>& protocols) const;
  // The protocol every member supports that most members prefer. REQUIRES: !empty().
  std::string SelectProtocol() const;
  // The largest rebalance timeout of the members (0 without members).
  std::int32_t RebalanceTimeoutMs() const;

  // Adds `member` (taking the group's protocol type when it is the first, and the leadership
  // when there is no leader); it stops being a pending member.
  Member& Add(std::unique_ptr<Member> member);
  // Removes a member (a pending member too), electing the next member leader if it led. The
  // member's parked requests are left unanswered: callers answer them first.
  void Remove(std::string_view member_id);
  // Gives a static member a new id, keeping everything else; requests parked under the old id
  // are answered FENCED_INSTANCE_ID. Returns the member under its new id.
  Member& ReplaceStatic(std::string_view old_id, std::string new_id);

  int AwaitingJoinCount() const;
  // Every member is parked in JoinGroup and no pending member is left to join.
  bool AllMembersJoined() const;
  // Keeps the leader if it rejoined, else makes a rejoined member leader; false when no member
  // rejoined (or there is none).
  bool ElectJoinedLeader();
  // Next generation: a protocol is chosen and the group goes to CompletingRebalance, or to
  // Empty (no protocol) without members. Clears the members expected to sync.
  void InitNextGeneration(std::int64_t now_ms);
  void TransitionTo(GroupState state, std::int64_t now_ms);
  // Empty, CompletingRebalance and Stable may go to PreparingRebalance.
  bool CanRebalance() const;

  // The members as the leader's JoinGroup answer lists them.
  std::vector<JoinResult::Member> JoinMembers() const;
  // The group as a GroupMetadata record holds it, with the members' assignments, or with
  // `assignments` (member id → assignment) when given.
  GroupMetadataValue ToRecord(
      const std::map<std::string, std::string>* assignments = nullptr) const;

  // Members given an id with MEMBER_ID_REQUIRED that have not joined yet.
  std::map<std::string, std::unique_ptr<PendingMember>>& pending_join() { return pending_join_; }
  bool IsPendingJoin(std::string_view member_id) const;
  PendingMember& AddPendingJoin(const std::string& member_id);
  // Members of the generation that have not sent SyncGroup yet.
  std::set<std::string>& pending_sync() { return pending_sync_; }

  bool new_member_added = false;  // during an initial rebalance: the delay may be extended
  asio::steady_timer join_timer;  // the join phase: initial delay or rebalance timeout
  std::uint64_t join_token = 0;
  asio::steady_timer sync_timer;  // members of a new generation must sync in time
  std::uint64_t sync_token = 0;

 private:
  std::optional<std::set<std::string>> ComputeSubscribedTopics() const;

  const std::string id_;
  const asio::any_io_executor executor_;
  GroupState state_ = GroupState::kEmpty;
  GroupState previous_state_ = GroupState::kEmpty;
  std::int64_t state_timestamp_ms_ = -1;
  std::int32_t generation_ = 0;
  std::optional<std::string> protocol_type_;
  std::optional<std::string> protocol_name_;
  std::optional<std::string> leader_;
  std::vector<std::unique_ptr<Member>> members_;  // in the order they joined
  std::map<std::string, std::unique_ptr<PendingMember>> pending_join_;
  std::set<std::string> pending_sync_;
  std::optional<std::set<std::string>> subscribed_topics_;
};

}  // namespace tern::broker::group
