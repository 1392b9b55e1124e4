// ConsumerMembership: the consumer rebalance protocol of KIP-848 — ConsumerGroupHeartbeat over
// the ConsumerGroups it owns (consumer_group.h) — as Kafka 4.x serves it:
//   - member epoch 0 joins (or rejoins after losing its partitions) with its subscription (topic
//     names, or a regular expression matched against the topics' names) and a rebalance
//     timeout; v0 members get an id, v1 members bring their own;
//   - later heartbeats carry the member's epoch (FENCED_MEMBER_EPOCH when it is not the
//     member's, except the previous one from a member whose answer was lost) and, when it
//     changed, the partitions it owns; each is answered with the member's epoch and, when it
//     changed (or the request was a full one), its assignment;
//   - epoch -1 leaves; a static member (instance id) leaves for now with -2 and keeps its
//     partitions until its session ends, and a member joining with its instance id takes its
//     place (UNRELEASED_INSTANCE_ID while the old one is still active);
//   - a member that sends no heartbeat within group.consumer.session.timeout.ms, or does not
//     revoke within its rebalance timeout, is removed and the group rebalances.
// Membership lives in memory: after a restart members get UNKNOWN_MEMBER_ID and rejoin, and
// resume from their committed offsets.
//
// Network thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/cluster/topics.h"
#include "broker/group/consumer_group.h"
#include "kafka/error_code.h"

namespace tern::broker::group {

struct ConsumerProtocolConfig {
  std::int32_t session_timeout_ms = 45000;     // group.consumer.session.timeout.ms
  std::int32_t heartbeat_interval_ms = 5000;   // group.consumer.heartbeat.interval.ms
  std::int32_t max_size = INT32_MAX;           // group.consumer.max.size
};

struct ConsumerHeartbeatRequest {
  std::string group_id;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  std::optional<TopicPartitions> owned;  // null: unchanged since the last heartbeat
  std::string client_id;
  std::string client_host;
  std::int16_t version = 0;
};

struct ConsumerHeartbeatResult {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::string message;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int32_t heartbeat_interval_ms = 0;
  std::optional<TopicPartitions> assignment;  // null: unchanged
};

class ConsumerMembership {
 public:
  ConsumerMembership(const Topics& topics, const ConsumerProtocolConfig& config,
                     asio::any_io_executor executor);
  ConsumerMembership(const ConsumerMembership&) = delete;
  ConsumerMembership& operator=(const ConsumerMembership&) = delete;

  // Starts the check of sessions and revocation deadlines; Stop cancels it.
  void Start();
  void Stop();

  ConsumerHeartbeatResult Heartbeat(const ConsumerHeartbeatRequest& request);

  ConsumerGroup* Find(const std::string& group_id) const;
  const std::map<std::string, std::unique_ptr<ConsumerGroup>>& groups() const { return groups_; }
  // Forgets a group that has no members (it is deleted, or becomes a classic group).
  void Forget(const std::string& group_id);

  // Whether a member may commit (OffsetCommit v9+, TxnOffsetCommit) or fetch offsets with this
  // member id and epoch: UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH (not its epoch; ILLEGAL_GENERATION
  // for a transactional commit), UNSUPPORTED_VERSION (OffsetCommit before v9); an epoch of -1
  // without a member passes while the group is empty (admin and assign-mode clients).
  kafka::ErrorCode ValidateCommit(const ConsumerGroup& group, const std::string& member_id,
                                  std::int32_t member_epoch, std::int16_t version,
                                  bool transactional) const;
  kafka::ErrorCode ValidateFetch(const ConsumerGroup& group,
                                 const std::optional<std::string>& member_id,
                                 std::int32_t member_epoch) const;

  // Removes the members whose session or revocation deadline passed by `now_ms`.
  void ExpireMembers(std::int64_t now_ms);

 private:
  ConsumerHeartbeatResult Leave(const ConsumerHeartbeatRequest& request);
  // The member's topics from its subscription, and the group's topics' metadata; true when
  // either changed (the group must rebalance).
  bool Resolve(ConsumerGroup& group, ConsumerMember& member) const;
  bool RefreshTopics(ConsumerGroup& group) const;
  asio::awaitable<void> ExpiryLoop();

  const Topics& topics_;
  const ConsumerProtocolConfig config_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  std::map<std::string, std::unique_ptr<ConsumerGroup>> groups_;
};

// Steady-clock milliseconds, the clock of the members' deadlines.
std::int64_t SteadyNowMs();

}  // namespace tern::broker::group
