// ConsumerMembership over real topics: what ConsumerGroupHeartbeat answers, request by request.
#include "broker/group/consumer_membership.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>

#include "broker/group/consumer_group_records.h"
#include "broker/storage/test_util.h"

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;
using storage::testing_util::TempDir;

class ConsumerMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topics_ = std::make_unique<Topics>(dir_.path(), BrokerLogDefaults{});
    ASSERT_TRUE(topics_->Load().ok());
    auto t = topics_->Create("orders", 4, {});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    orders_ = t.value()->id;
    ConsumerProtocolConfig config;
    config.session_timeout_ms = 10000;
    config.max_size = 3;
    members_ = std::make_unique<ConsumerMembership>(*topics_, config, io_.get_executor());
  }

  ConsumerHeartbeatRequest Join(const std::string& member) const {
    ConsumerHeartbeatRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.member_epoch = 0;
    r.rebalance_timeout_ms = 30000;
    r.subscribed_topic_names = std::vector<std::string>{"orders"};
    r.owned = TopicPartitions{};
    r.version = 1;
    return r;
  }

  ConsumerHeartbeatRequest Beat(const std::string& member, std::int32_t epoch,
                                std::optional<TopicPartitions> owned = std::nullopt) const {
    ConsumerHeartbeatRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.member_epoch = epoch;
    r.owned = std::move(owned);
    r.version = 1;
    return r;
  }

  asio::io_context io_;
  TempDir dir_;
  std::unique_ptr<Topics> topics_;
  std::unique_ptr<ConsumerMembership> members_;
  kafka::Uuid orders_{};
};

TEST_F(ConsumerMembershipTest, TwoMembersSplitTheTopicOnlyAfterTheFirstRevokes) {
  ConsumerHeartbeatResult a = members_->Heartbeat(Join("a"));
  ASSERT_EQ(a.error, E::kNone) << a.message;
  EXPECT_EQ(a.member_epoch, 1);
  ASSERT_TRUE(a.assignment.has_value());
  EXPECT_EQ(CountPartitions(*a.assignment), 4u);

  ConsumerHeartbeatResult b = members_->Heartbeat(Join("b"));
  ASSERT_EQ(b.error, E::kNone);
  EXPECT_EQ(b.member_epoch, 2);
  EXPECT_EQ(CountPartitions(*b.assignment), 0u) << "a still holds every partition";

  // a learns it keeps two; its epoch stays until it has revoked the others.
  a = members_->Heartbeat(Beat("a", 1));
  ASSERT_EQ(a.error, E::kNone);
  EXPECT_EQ(a.member_epoch, 1);
  ASSERT_TRUE(a.assignment.has_value());
  const TopicPartitions kept = *a.assignment;
  EXPECT_EQ(CountPartitions(kept), 2u);
  a = members_->Heartbeat(Beat("a", 1, kept));
  EXPECT_EQ(a.member_epoch, 2);
  EXPECT_FALSE(a.assignment.has_value()) << "unchanged";

  b = members_->Heartbeat(Beat("b", 2));
  ASSERT_TRUE(b.assignment.has_value());
  EXPECT_EQ(CountPartitions(*b.assignment), 2u);
  EXPECT_TRUE(Intersect(kept, *b.assignment).empty());
  EXPECT_EQ(members_->Find("g")->StateName(), "Stable");

  // b leaves: a gets everything at the next epoch.
  ConsumerHeartbeatResult left = members_->Heartbeat(Beat("b", -1));
  EXPECT_EQ(left.member_epoch, -1);
  a = members_->Heartbeat(Beat("a", 2));
  EXPECT_EQ(a.member_epoch, 3);
  EXPECT_EQ(CountPartitions(*a.assignment), 4u);
}

TEST_F(ConsumerMembershipTest, WrongEpochsAndUnknownMembersAreFenced) {
  ASSERT_EQ(members_->Heartbeat(Join("a")).member_epoch, 1);
  EXPECT_EQ(members_->Heartbeat(Beat("a", 7)).error, E::kFencedMemberEpoch);
  EXPECT_EQ(members_->Heartbeat(Beat("nobody", 1)).error, E::kUnknownMemberId);
  EXPECT_EQ(members_->Heartbeat(Beat("a", 1)).error, E::kNone);
  // A member that lost its partitions joins again with epoch 0 under the same id.
  ConsumerHeartbeatResult again = members_->Heartbeat(Join("a"));
  EXPECT_EQ(again.error, E::kNone);
  EXPECT_EQ(CountPartitions(*again.assignment), 4u);
}

TEST_F(ConsumerMembershipTest, TheLastEpochIsTakenFromAMemberWhoseAnswerWasLost) {
  members_->Heartbeat(Join("a"));
  members_->Heartbeat(Join("b"));  // epoch 2: a must give up two
  ConsumerHeartbeatResult a = members_->Heartbeat(Beat("a", 1));
  const TopicPartitions kept = *a.assignment;
  ASSERT_EQ(members_->Heartbeat(Beat("a", 1, kept)).member_epoch, 2);
  // That answer was lost: a still sends epoch 1, owning no more than it was given.
  EXPECT_EQ(members_->Heartbeat(Beat("a", 1, kept)).error, E::kNone);
  TopicPartitions more = kept;
  more[orders_].insert(0);
  more[orders_].insert(1);
  more[orders_].insert(2);
  more[orders_].insert(3);
  EXPECT_EQ(members_->Heartbeat(Beat("a", 1, more)).error, E::kFencedMemberEpoch);
}

TEST_F(ConsumerMembershipTest, BadRequestsGetClearErrors) {
  ConsumerHeartbeatRequest r = Join("");
  EXPECT_EQ(members_->Heartbeat(r).error, E::kInvalidRequest) << "v1 members bring an id";
  r.version = 0;
  ConsumerHeartbeatResult given = members_->Heartbeat(r);
  EXPECT_EQ(given.error, E::kNone);
  EXPECT_EQ(given.member_id.size(), 36u) << "v0 members get one";

  r = Join("x");
  r.rebalance_timeout_ms = -1;
  EXPECT_EQ(members_->Heartbeat(r).message, "RebalanceTimeoutMs must be provided in first request.");
  r = Join("x");
  r.subscribed_topic_names.reset();
  EXPECT_EQ(members_->Heartbeat(r).error, E::kInvalidRequest);
  r = Join("x");
  r.owned = TopicPartitions{{orders_, {0}}};
  EXPECT_EQ(members_->Heartbeat(r).error, E::kInvalidRequest);
  r = Join("x");
  r.server_assignor = "sticky";
  EXPECT_EQ(members_->Heartbeat(r).error, E::kUnsupportedAssignor);
  r = Join("x");
  r.subscribed_topic_names.reset();
  r.subscribed_topic_regex = "orders(";
  EXPECT_EQ(members_->Heartbeat(r).error, E::kInvalidRegularExpression);
  EXPECT_EQ(members_->Heartbeat(Beat("x", -3)).error, E::kInvalidRequest);
  EXPECT_EQ(members_->Heartbeat(Beat("x", -2)).message, "InstanceId can't be null.");
  // None of these joined.
  EXPECT_EQ(members_->Find("g")->members().size(), 1u);
}

TEST_F(ConsumerMembershipTest, ARegexSubscriptionFollowsNewTopics) {
  ConsumerHeartbeatRequest r = Join("a");
  r.subscribed_topic_names.reset();
  r.subscribed_topic_regex = "ord.*|pay.*";
  ConsumerHeartbeatResult a = members_->Heartbeat(r);
  ASSERT_EQ(a.error, E::kNone) << a.message;
  EXPECT_EQ(CountPartitions(*a.assignment), 4u);
  auto payments = topics_->Create("payments", 2, {});
  ASSERT_TRUE(payments.ok());
  a = members_->Heartbeat(Beat("a", 1));
  EXPECT_EQ(a.member_epoch, 2);
  ASSERT_TRUE(a.assignment.has_value());
  EXPECT_EQ(CountPartitions(*a.assignment), 6u);
  EXPECT_TRUE(members_->Find("g")->IsSubscribedTo("payments"));
}

TEST_F(ConsumerMembershipTest, AStaticMemberComesBackAsItselfAfterLeavingForNow) {
  ConsumerHeartbeatRequest r = Join("a");
  r.instance_id = "host-1";
  ASSERT_EQ(members_->Heartbeat(r).member_epoch, 1);
  ConsumerHeartbeatRequest other = Join("a2");
  other.instance_id = "host-1";
  EXPECT_EQ(members_->Heartbeat(other).error, E::kUnreleasedInstanceId);

  ConsumerHeartbeatRequest leave = Beat("a", -2);
  leave.instance_id = "host-1";
  EXPECT_EQ(members_->Heartbeat(leave).member_epoch, -2);
  ConsumerHeartbeatResult back = members_->Heartbeat(other);
  ASSERT_EQ(back.error, E::kNone) << back.message;
  EXPECT_EQ(back.member_epoch, 1) << "no rebalance";
  EXPECT_EQ(CountPartitions(*back.assignment), 4u);
  EXPECT_EQ(members_->Find("g")->group_epoch(), 1);
}

TEST_F(ConsumerMembershipTest, SilentMembersAreRemovedAndMaxSizeHolds) {
  members_->Heartbeat(Join("a"));
  members_->Heartbeat(Join("b"));
  members_->Heartbeat(Join("c"));
  EXPECT_EQ(members_->Heartbeat(Join("d")).error, E::kGroupMaxSizeReached);
  members_->ExpireMembers(SteadyNowMs() + 60000);
  EXPECT_TRUE(members_->Find("g")->empty());
  EXPECT_EQ(members_->Find("g")->StateName(), "Empty");
}

TEST_F(ConsumerMembershipTest, CommitsAndFetchesNeedTheMembersEpoch) {
  members_->Heartbeat(Join("a"));
  const ConsumerGroup& g = *members_->Find("g");
  EXPECT_EQ(members_->ValidateCommit(g, "a", 1, 9, false), E::kNone);
  EXPECT_EQ(members_->ValidateCommit(g, "a", 0, 9, false), E::kStaleMemberEpoch);
  EXPECT_EQ(members_->ValidateCommit(g, "a", 0, 9, true), E::kIllegalGeneration);
  EXPECT_EQ(members_->ValidateCommit(g, "a", 1, 8, false), E::kUnsupportedVersion);
  EXPECT_EQ(members_->ValidateCommit(g, "z", 1, 9, false), E::kUnknownMemberId);
  EXPECT_EQ(members_->ValidateCommit(g, "", -1, 9, false), E::kUnknownMemberId)
      << "the group has members";
  EXPECT_EQ(members_->ValidateFetch(g, std::nullopt, -1), E::kNone);
  EXPECT_EQ(members_->ValidateFetch(g, std::string("a"), 1), E::kNone);
  EXPECT_EQ(members_->ValidateFetch(g, std::string("a"), 2), E::kStaleMemberEpoch);
}

TEST_F(ConsumerMembershipTest, TheRecordsRebuildMembersEpochsAndAssignments) {
  members_->Heartbeat(Join("a"));
  ConsumerHeartbeatRequest b = Join("b");
  b.instance_id = "host-b";
  b.server_assignor = "range";
  members_->Heartbeat(b);
  const TopicPartitions kept = *members_->Heartbeat(Beat("a", 1)).assignment;
  members_->Heartbeat(Beat("a", 1, kept));
  members_->Heartbeat(Beat("b", 2));
  members_->Heartbeat(Join("c"));
  members_->Heartbeat(Beat("c", -1));  // joined and left: only tombstones remain of it

  // What compaction would keep: the latest value of every key, tombstones removing keys.
  std::map<std::string, std::map<std::string, std::string>> log;
  for (GroupRecord& r : members_->TakeRecords()) {
    if (r.value.has_value()) {
      log[r.group][r.key] = *r.value;
    } else {
      log[r.group].erase(r.key);
    }
  }
  EXPECT_TRUE(members_->TakeRecords().empty());

  ConsumerMembership reloaded(*topics_, ConsumerProtocolConfig{}, io_.get_executor());
  EXPECT_EQ(reloaded.Load(log), 2u);
  const ConsumerGroup& before = *members_->Find("g");
  const ConsumerGroup& after = *reloaded.Find("g");
  EXPECT_EQ(after.group_epoch(), before.group_epoch());
  EXPECT_EQ(after.assignment_epoch(), before.assignment_epoch());
  ASSERT_EQ(after.members().size(), 2u);
  for (const auto& [id, m] : before.members()) {
    const ConsumerMember* r = after.Find(id);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->member_epoch, m.member_epoch);
    EXPECT_EQ(r->previous_member_epoch, m.previous_member_epoch);
    EXPECT_EQ(r->state, m.state);
    EXPECT_EQ(r->assigned, m.assigned);
    EXPECT_EQ(r->instance_id, m.instance_id);
    EXPECT_EQ(r->server_assignor, m.server_assignor);
    EXPECT_EQ(r->subscribed_topic_names, m.subscribed_topic_names);
    EXPECT_EQ(after.TargetOf(id), before.TargetOf(id));
  }
  // The members carry on with their epochs: no rejoin, and their partitions stay.
  const std::int32_t epoch_a = after.Find("a")->member_epoch;
  ConsumerHeartbeatResult a = reloaded.Heartbeat(Beat("a", epoch_a, after.Find("a")->assigned));
  ASSERT_EQ(a.error, E::kNone) << a.message;
  EXPECT_EQ(CountPartitions(before.Find("a")->assigned),
            CountPartitions(reloaded.Find("g")->Find("a")->assigned));
}

TEST(ConsumerGroupRecords, ValuesRoundTripAndKeysNameTheirGroup) {
  const std::string key =
      EncodeConsumerRecordKey(ConsumerRecordType::kCurrentMemberAssignment, "g", "m-1");
  auto k = DecodeConsumerRecordKey(key);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k.value().group, "g");
  EXPECT_EQ(k.value().member, "m-1");
  EXPECT_EQ(DecodeConsumerRecordKey(EncodeConsumerRecordKey(ConsumerRecordType::kGroupMetadata,
                                                            "g")).value().member, "");
  EXPECT_EQ(DecodeConsumerRecordKey(std::string("\x00\x01\x00\x01g", 5)).status().code(),
            Status::Code::kNotFound);
  EXPECT_FALSE(DecodeConsumerRecordKey(std::string("\x00\x05\x00\x09g", 5)).ok());

  MemberAssignmentValue v;
  v.member_epoch = 7;
  v.previous_member_epoch = 6;
  v.state = 1;
  kafka::Uuid t{};
  t[0] = 9;
  v.assigned = {{t, {0, 2}}};
  v.pending_revocation = {{t, {1}}};
  EXPECT_EQ(DecodeMemberAssignmentValue(EncodeMemberAssignmentValue(v)).value(), v);
  MemberMetadataValue m;
  m.instance_id = "i";
  m.client_id = "c";
  m.client_host = "/127.0.0.1";
  m.subscribed_topic_names = {"a", "b"};
  m.subscribed_topic_regex = "x.*";
  m.rebalance_timeout_ms = 30000;
  EXPECT_EQ(DecodeMemberMetadataValue(EncodeMemberMetadataValue(m)).value(), m);
  EXPECT_EQ(DecodeEpochValue(EncodeEpochValue(12)).value(), 12);
  EXPECT_EQ(DecodeTargetAssignmentValue(EncodeTargetAssignmentValue(v.assigned)).value(),
            v.assigned);
  const std::string bytes = EncodeMemberAssignmentValue(v);
  EXPECT_FALSE(DecodeMemberAssignmentValue(bytes.substr(0, bytes.size() - 3)).ok());
}

}  // namespace
}  // namespace tern::broker::group
