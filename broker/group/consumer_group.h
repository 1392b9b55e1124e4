// ConsumerGroup: one group under the consumer rebalance protocol (KIP-848) and the rules that
// need no I/O. The group has an epoch, bumped whenever its members or their subscriptions (or
// the subscribed topics' partitions) change; each bump computes a new target assignment with
// the server-side assignor (server_assignor.h). Each member then reconciles towards its target
// one heartbeat at a time, as Kafka's members do:
//   - a member holding partitions its target no longer has must revoke them first
//     (UNREVOKED_PARTITIONS): it keeps its epoch and is told only the partitions it keeps,
//     until a heartbeat reports it owns none of the revoked ones;
//   - it then takes the group's epoch and the partitions of its target that no other member
//     still holds; those others hold are granted on later heartbeats, once released
//     (UNRELEASED_PARTITIONS), so no partition ever has two owners.
// The group is Empty without members, Reconciling while a member has not reached its target,
// else Stable (targets are computed at once, so it is never seen Assigning).
//
// Network thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/group/consumer_group_records.h"
#include "broker/group/server_assignor.h"
#include "kafka/wire.h"

namespace tern::broker::group {

inline constexpr std::string_view kConsumerGroupType = "consumer";

enum class MemberState { kStable, kUnrevokedPartitions, kUnreleasedPartitions };

// The member epoch of a static member that left for now and may come back (KIP-848).
inline constexpr std::int32_t kStaticLeaveEpoch = -2;

struct ConsumerMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  std::int32_t rebalance_timeout_ms = 0;
  std::vector<std::string> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::shared_ptr<const std::regex> regex;  // compiled subscribed_topic_regex
  std::optional<std::string> server_assignor;
  std::set<std::string> topics;  // the topics its subscription resolves to now

  std::int32_t member_epoch = 0;
  std::int32_t previous_member_epoch = -1;
  MemberState state = MemberState::kStable;
  TopicPartitions assigned;            // what it owns and was told
  TopicPartitions pending_revocation;  // what it must give up before going on

  std::int64_t session_deadline_ms = 0;     // removed when no heartbeat comes by then
  std::int64_t revocation_deadline_ms = 0;  // removed when not revoked by then; 0: none

  // Set for a member that speaks the classic protocol (JoinGroup, SyncGroup, Heartbeat) in
  // this group, which it was in when the group moved to the consumer protocol, or joined since:
  // its session timeout and the protocols of its last JoinGroup.
  std::optional<ClassicMemberMetadata> classic;
  std::string classic_protocol;   // the protocol name its last JoinGroup answer gave
  std::int16_t assignment_version = 0;  // of its subscription: SyncGroup answers in it
  std::int64_t sync_deadline_ms = 0;    // classic: removed when no SyncGroup comes by then
  std::int64_t join_deadline_ms = 0;    // classic: removed when it does not rejoin by then

  // The values of its records last written to __consumer_offsets (metadata, assignment).
  std::string written_metadata;
  std::string written_assignment;
};

struct SubscribedTopic {
  kafka::Uuid id{};
  std::int32_t partitions = 0;
  friend bool operator==(const SubscribedTopic&, const SubscribedTopic&) = default;
};

class ConsumerGroup {
 public:
  explicit ConsumerGroup(std::string id) : id_(std::move(id)) {}

  const std::string& id() const { return id_; }
  std::int32_t group_epoch() const { return group_epoch_; }
  std::int32_t assignment_epoch() const { return assignment_epoch_; }
  const std::map<std::string, ConsumerMember>& members() const { return members_; }
  bool empty() const { return members_.empty(); }
  // "Empty", "Reconciling" or "Stable", as ListGroups and ConsumerGroupDescribe report it.
  std::string_view StateName() const;
  // The assignor the group uses: the one most members ask for, else "uniform".
  std::string AssignorName() const;
  // Topics of the members' subscriptions that exist, by name.
  const std::map<std::string, SubscribedTopic>& subscribed_topics() const { return topics_; }
  bool IsSubscribedTo(const std::string& topic) const;

  ConsumerMember* Find(const std::string& member_id);
  const ConsumerMember* Find(const std::string& member_id) const;
  ConsumerMember* FindByInstance(const std::string& instance_id);
  const TopicPartitions& TargetOf(const std::string& member_id) const;

  // Adds a member (a new one gets epoch 0 and nothing assigned). REQUIRES: not a member yet.
  ConsumerMember& Add(ConsumerMember member);
  // Removes it, releasing what it holds.
  void Remove(const std::string& member_id);
  // Puts `member_id` in the place of the static member `old_id` (same instance id): it takes
  // over its epoch, partitions and target.
  ConsumerMember& Replace(const std::string& old_id, ConsumerMember member);
  // Forgets what the member holds (it rejoins with epoch 0 after losing its partitions).
  void ResetAssignment(ConsumerMember& member);

  // Rebuilding from records: the epochs and targets, then each member as it was (its epochs,
  // state and partitions kept).
  void Restore(std::int32_t group_epoch, std::int32_t assignment_epoch,
               std::map<std::string, TopicPartitions> targets);
  ConsumerMember& RestoreMember(ConsumerMember member);

  // Replaces the subscribed topics' metadata; true when it changed.
  bool SetSubscribedTopics(std::map<std::string, SubscribedTopic> topics);
  // Bumps the group epoch and computes every member's new target with the group's assignor.
  void BumpEpochAndAssign();

  // Whether a partition of the member's target that it does not hold yet is still held by
  // another member.
  bool WaitingOnUnreleased(const ConsumerMember& member) const;
  // Whether every member speaks the classic protocol (false without members).
  bool AllClassic() const;

  // One reconciliation step of the member towards its target, given the partitions its
  // heartbeat says it owns (null: not said). `now_ms` starts a revocation's deadline.
  void Reconcile(ConsumerMember& member, const TopicPartitions* owned, std::int64_t now_ms);

 private:
  void SetHeld(ConsumerMember& member, TopicPartitions assigned, TopicPartitions pending);
  void Release(const ConsumerMember& member);
  // Whether a member other than `member_id` holds the partition.
  bool HeldByOther(const kafka::Uuid& topic, std::int32_t partition,
                   const std::string& member_id) const;

  const std::string id_;
  std::int32_t group_epoch_ = 0;
  std::int32_t assignment_epoch_ = 0;
  std::map<std::string, ConsumerMember> members_;
  std::map<std::string, TopicPartitions> target_;
  std::map<std::string, SubscribedTopic> topics_;
  // Who holds each partition (assigned or still to revoke).
  std::map<std::pair<kafka::Uuid, std::int32_t>, std::string> owners_;
};

// a \ b and a ∩ b, partition by partition.
TopicPartitions Minus(const TopicPartitions& a, const TopicPartitions& b);
TopicPartitions Intersect(const TopicPartitions& a, const TopicPartitions& b);
bool Contains(const TopicPartitions& outer, const TopicPartitions& inner);

// A random (version 4) UUID in its usual text form, as Java's UUID.randomUUID().toString():
// the member ids this coordinator gives.
std::string RandomUuidText();

}  // namespace tern::broker::group
