// Classic members in consumer groups (consumer_classic.cc), the embedded consumer protocol
// (consumer_protocol.h) and the classic member metadata of a member record.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>

#include "broker/group/consumer_group_records.h"
#include "broker/group/consumer_membership.h"
#include "broker/group/consumer_protocol.h"
#include "broker/storage/test_util.h"
#include "kafka/wire.h"

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;
using storage::testing_util::TempDir;

// A subscription of `version` to `topics`, owning `owned`, as a Java or librdkafka consumer
// writes it.
std::string Subscription(std::int16_t version, const std::vector<std::string>& topics,
                         const NamedPartitions& owned = {}) {
  kafka::Writer w;
  w.WriteInt16(version);
  w.WriteArrayLength(topics.size(), false);
  for (const auto& t : topics) w.WriteString(t, false);
  w.WriteNullableBytes(std::nullopt, false);
  if (version >= 1) {
    w.WriteArrayLength(owned.size(), false);
    for (const auto& [t, parts] : owned) {
      w.WriteString(t, false);
      w.WriteArrayLength(parts.size(), false);
      for (std::int32_t p : parts) w.WriteInt32(p);
    }
  }
  if (version >= 2) w.WriteInt32(5);
  if (version >= 3) w.WriteNullableString(std::string("rack-a"), false);
  return w.TakeBuffer();
}

TEST(ConsumerProtocol, SubscriptionsOfEveryVersionDecode) {
  auto v0 = DecodeConsumerSubscription(Subscription(0, {"a", "b"}));
  ASSERT_TRUE(v0.has_value());
  EXPECT_EQ(v0->topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(v0->owned.empty());
  auto v3 = DecodeConsumerSubscription(Subscription(3, {"a"}, {{"a", {1, 3}}}));
  ASSERT_TRUE(v3.has_value());
  EXPECT_EQ(v3->owned, (NamedPartitions{{"a", {1, 3}}}));
  EXPECT_EQ(v3->generation, 5);
  EXPECT_EQ(v3->rack_id, "rack-a");
  // A later version's extra fields are ignored; cut or negative input is refused.
  EXPECT_TRUE(DecodeConsumerSubscription(Subscription(3, {"a"}) + "extra").has_value());
  const std::string s = Subscription(2, {"a"}, {{"a", {0}}});
  for (std::size_t n = 0; n < s.size(); ++n) {
    EXPECT_FALSE(DecodeConsumerSubscription(s.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(DecodeConsumerSubscription(std::string("\xff\xff", 2)).has_value());
  EXPECT_EQ(AssignmentVersionFor(Subscription(3, {"a"})), 3);
  EXPECT_EQ(AssignmentVersionFor(Subscription(7, {"a"})), 3);
  EXPECT_EQ(AssignmentVersionFor(""), 0);
}

TEST(ConsumerProtocol, AssignmentsRoundTrip) {
  const NamedPartitions parts{{"a", {0, 2}}, {"b", {1}}};
  for (std::int16_t version : {0, 1, 2, 3}) {
    auto a = DecodeConsumerAssignment(EncodeConsumerAssignment(parts, version));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->version, version);
    EXPECT_EQ(a->partitions, parts);
    EXPECT_FALSE(a->user_data.has_value());
  }
  EXPECT_FALSE(DecodeConsumerAssignment("\x00").has_value());
}

TEST(ConsumerGroupRecords, ClassicMemberMetadataIsKafkasTaggedField) {
  MemberMetadataValue m;
  m.instance_id = "";
  m.rack_id = "";
  m.client_id = "c";
  m.client_host = "h";
  m.subscribed_topic_regex = "";
  m.rebalance_timeout_ms = 5;
  m.server_assignor = "";
  // What Kafka 4.4's ConsumerGroupMemberMetadataValue writes for these fields: no tagged field
  // when the member is of the consumer protocol, tag 0 when it is a classic member.
  auto hex = [](const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  EXPECT_EQ(hex(EncodeMemberMetadataValue(m)), "00000101026302680101000000050100");
  m.classic = ClassicMemberMetadata{7, {{"r", std::string("\x01\x02", 2)}}};
  const std::string bytes = EncodeMemberMetadataValue(m);
  EXPECT_EQ(hex(bytes), "00000101026302680101000000050101000d01000000070202720301020000");
  EXPECT_EQ(DecodeMemberMetadataValue(bytes).value(), m);
  // The null marker some writers put in tag 0 reads as no classic metadata.
  std::string null_tag = "00000101026302680101000000050101000100";
  std::string raw;
  for (std::size_t i = 0; i < null_tag.size(); i += 2) {
    raw += static_cast<char>(std::stoi(null_tag.substr(i, 2), nullptr, 16));
  }
  EXPECT_FALSE(DecodeMemberMetadataValue(raw).value().classic.has_value());
}

class ClassicMembersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topics_ = std::make_unique<Topics>(dir_.path(), BrokerLogDefaults{});
    ASSERT_TRUE(topics_->Load().ok());
    auto t = topics_->Create("orders", 4, {});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    orders_ = t.value()->id;
    members_ = std::make_unique<ConsumerMembership>(*topics_, ConsumerProtocolConfig{},
                                                    io_.get_executor());
  }

  // Two classic members of generation 3 holding two partitions each, as an upgrade leaves them.
  void Upgrade() {
    std::vector<ConsumerMember> classic;
    for (const auto& [id, parts] : std::map<std::string, std::set<std::int32_t>>{
             {"a", {0, 1}}, {"b", {2, 3}}}) {
      ConsumerMember m;
      m.member_id = id;
      m.client_id = id;
      m.rebalance_timeout_ms = 30000;
      m.subscribed_topic_names = {"orders"};
      m.classic = ClassicMemberMetadata{10000, {{"range", Subscription(3, {"orders"})}}};
      m.classic_protocol = "range";
      m.assignment_version = 3;
      m.assigned = {{orders_, parts}};
      classic.push_back(std::move(m));
    }
    members_->Adopt("g", 3, std::move(classic));
  }

  JoinRequest ClassicJoinRequest(const std::string& member, const NamedPartitions& owned = {}) {
    JoinRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 30000;
    r.protocol_type = "consumer";
    r.protocols = {{"range", Subscription(3, {"orders"}, owned)},
                   {"cooperative-sticky", Subscription(3, {"orders"}, owned)}};
    r.version = 9;
    return r;
  }

  SyncRequest ClassicSyncRequest(const std::string& member, std::int32_t generation) {
    SyncRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.generation = generation;
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    return r;
  }

  NamedPartitions Synced(const std::string& member, std::int32_t generation) {
    SyncResult s = members_->ClassicSync(ClassicSyncRequest(member, generation));
    EXPECT_EQ(s.error, E::kNone);
    auto a = DecodeConsumerAssignment(s.assignment);
    EXPECT_TRUE(a.has_value());
    EXPECT_EQ(a->version, 3);
    return a.has_value() ? a->partitions : NamedPartitions{};
  }

  ConsumerHeartbeatRequest ConsumerJoin(const std::string& member) const {
    ConsumerHeartbeatRequest r;
    r.group_id = "g";
    r.member_id = member;
    r.rebalance_timeout_ms = 30000;
    r.subscribed_topic_names = std::vector<std::string>{"orders"};
    r.owned = TopicPartitions{};
    r.version = 1;
    return r;
  }

  asio::io_context io_;
  TempDir dir_;
  std::unique_ptr<Topics> topics_;
  std::unique_ptr<ConsumerMembership> members_;
  kafka::Uuid orders_{};
};

TEST_F(ClassicMembersTest, AnUpgradedGroupKeepsItsGenerationAndPartitions) {
  Upgrade();
  const ConsumerGroup& g = *members_->Find("g");
  EXPECT_EQ(g.group_epoch(), 3);
  EXPECT_EQ(g.StateName(), "Stable");
  EXPECT_EQ(members_->ClassicHeartbeat("g", 3, "a", std::nullopt), E::kNone);
  EXPECT_EQ(members_->ClassicHeartbeat("g", 2, "a", std::nullopt), E::kIllegalGeneration);
  EXPECT_EQ(members_->ClassicHeartbeat("g", 3, "x", std::nullopt), E::kUnknownMemberId);
  EXPECT_EQ(Synced("a", 3), (NamedPartitions{{"orders", {0, 1}}}));
  // Its records: the classic group's tombstone first, then the consumer group's.
  const auto records = members_->TakeRecords();
  ASSERT_FALSE(records.empty());
  EXPECT_FALSE(records.front().value.has_value());
  EXPECT_EQ(DecodeConsumerRecordKey(records.front().key).status().code(), Status::Code::kNotFound);
  // Commits need the member's generation, in any OffsetCommit version.
  EXPECT_EQ(members_->ValidateCommit(g, "a", 3, 2, false), E::kNone);
  EXPECT_EQ(members_->ValidateCommit(g, "a", 2, 8, false), E::kIllegalGeneration);
}

TEST_F(ClassicMembersTest, ClassicMembersRejoinToGiveUpAndTakePartitions) {
  Upgrade();
  ConsumerHeartbeatResult n = members_->Heartbeat(ConsumerJoin("n"));
  ASSERT_EQ(n.error, E::kNone) << n.message;
  EXPECT_EQ(n.member_epoch, 4);
  EXPECT_EQ(CountPartitions(*n.assignment), 0u) << "a and b still hold everything";
  // The classic members learn of the rebalance from their heartbeats.
  EXPECT_EQ(members_->ClassicHeartbeat("g", 3, "a", std::nullopt), E::kRebalanceInProgress);
  // A cooperative member rejoins owning what it had: it must give one up first.
  JoinResult a = members_->ClassicJoin(ClassicJoinRequest("a", {{"orders", {0, 1}}}));
  ASSERT_EQ(a.error, E::kNone);
  EXPECT_EQ(a.generation, 3) << "the epoch stays until the partition is given up";
  EXPECT_EQ(a.protocol_name, "range");
  EXPECT_EQ(a.leader, "");
  EXPECT_TRUE(a.members.empty());
  const NamedPartitions kept = Synced("a", 3);
  EXPECT_EQ(kept.at("orders").size(), 1u);
  EXPECT_EQ(members_->ClassicHeartbeat("g", 3, "a", std::nullopt), E::kRebalanceInProgress);
  a = members_->ClassicJoin(ClassicJoinRequest("a", kept));
  EXPECT_EQ(a.generation, 4);
  EXPECT_EQ(Synced("a", 4), kept);
  EXPECT_EQ(members_->ClassicHeartbeat("g", 4, "a", std::nullopt), E::kNone);
  // An eager member gives up everything before it rejoins, and gets its target (the uniform
  // assignor keeps its two partitions where they were).
  JoinResult b = members_->ClassicJoin(ClassicJoinRequest("b"));
  EXPECT_EQ(b.generation, 4);
  EXPECT_EQ(Synced("b", 4), (NamedPartitions{{"orders", {2, 3}}}));
  // The consumer member now gets the partition a gave up; no partition has two owners.
  n = members_->Heartbeat([&] {
    auto r = ConsumerJoin("n");
    r.member_epoch = 4;
    return r;
  }());
  ASSERT_EQ(n.error, E::kNone) << n.message;
  EXPECT_EQ(CountPartitions(*n.assignment), 1u);
  std::set<std::int32_t> all;
  for (const auto& [id, m] : members_->Find("g")->members()) {
    for (const auto& [topic, parts] : m.assigned) {
      for (std::int32_t p : parts) EXPECT_TRUE(all.insert(p).second) << p << " held twice";
    }
  }
  EXPECT_EQ(all.size(), 4u);
}

TEST_F(ClassicMembersTest, JoinGroupErrorsAreKafkas) {
  Upgrade();
  JoinResult r = members_->ClassicJoin(ClassicJoinRequest(""));
  EXPECT_EQ(r.error, E::kMemberIdRequired);
  EXPECT_FALSE(r.member_id.empty());
  JoinRequest other = ClassicJoinRequest("c");
  other.protocol_type = "connect";
  EXPECT_EQ(members_->ClassicJoin(other).error, E::kInconsistentGroupProtocol);
  JoinRequest unknown = ClassicJoinRequest("c");
  unknown.protocols = {{"roundrobin", Subscription(0, {"orders"})}};
  EXPECT_EQ(members_->ClassicJoin(unknown).error, E::kInconsistentGroupProtocol)
      << "no protocol the other classic members support";
  JoinRequest garbage = ClassicJoinRequest("c");
  garbage.protocols = {{"range", "\x00"}};
  EXPECT_EQ(members_->ClassicJoin(garbage).error, E::kInconsistentGroupProtocol);
  SyncRequest wrong = ClassicSyncRequest("a", 3);
  wrong.protocol_name = "roundrobin";
  EXPECT_EQ(members_->ClassicSync(wrong).error, E::kInconsistentGroupProtocol);
}

TEST_F(ClassicMembersTest, TheLastConsumerMemberLeavingMakesTheGroupDowngradable) {
  Upgrade();
  members_->Heartbeat(ConsumerJoin("n"));
  EXPECT_TRUE(members_->TakeDowngradable().empty());
  const std::int32_t epoch = members_->Find("g")->group_epoch();
  auto leave = ConsumerJoin("n");
  leave.member_epoch = -1;
  ASSERT_EQ(members_->Heartbeat(leave).error, E::kNone);
  EXPECT_EQ(members_->TakeDowngradable(), std::set<std::string>{"g"});
  EXPECT_EQ(members_->Find("g")->group_epoch(), epoch) << "not rebalanced: it is downgraded";
  // A classic member leaving leaves a classic group too.
  LeaveResult out = members_->ClassicLeave("g", {{"a", std::nullopt, ""}, {"x", std::nullopt, ""}});
  ASSERT_EQ(out.members.size(), 2u);
  EXPECT_EQ(out.members[0].error, E::kNone);
  EXPECT_EQ(out.members[1].error, E::kUnknownMemberId);
  EXPECT_EQ(members_->TakeDowngradable(), std::set<std::string>{"g"});
}

TEST_F(ClassicMembersTest, StaticMembersRollBetweenTheProtocolsInTheirPlace) {
  Upgrade();
  members_->Find("g")->Find("a")->instance_id = "host-a";
  // a is static and still a member: its consumer-protocol incarnation must wait until a's
  // place is released (Kafka's rule), before the group is converted for it and after.
  auto join = ConsumerJoin("a2");
  join.instance_id = "host-a";
  EXPECT_EQ(members_->UpgradeJoinError(join, 2, false, true)->error, E::kUnreleasedInstanceId);
  EXPECT_EQ(members_->Heartbeat(join).error, E::kUnreleasedInstanceId);
  // Requests naming another member for that instance are fenced; an unknown one is not a
  // member.
  JoinRequest zombie = ClassicJoinRequest("a-old");
  zombie.instance_id = "host-a";
  EXPECT_EQ(members_->ClassicJoin(zombie).error, E::kFencedInstanceId);
  EXPECT_EQ(members_->ClassicHeartbeat("g", 3, "a-old", std::string("host-a")),
            E::kFencedInstanceId);
  JoinRequest stranger = ClassicJoinRequest("z");
  stranger.instance_id = "host-z";
  EXPECT_EQ(members_->ClassicJoin(stranger).error, E::kUnknownMemberId);
  // A classic incarnation (no member id yet) takes a's place, epoch and partitions.
  JoinRequest again = ClassicJoinRequest("");
  again.instance_id = "host-a";
  JoinResult r = members_->ClassicJoin(again);
  ASSERT_EQ(r.error, E::kNone);
  EXPECT_EQ(r.generation, 3);
  EXPECT_EQ(members_->Find("g")->Find("a"), nullptr);
  EXPECT_EQ(CountPartitions(members_->Find("g")->Find(r.member_id)->assigned), 2u);
  // After a leaves, the consumer incarnation joins; a classic incarnation taking that
  // consumer member's place then leaves only classic members: the group goes back.
  EXPECT_EQ(members_->ClassicLeave("g", {{r.member_id, std::string("host-a"), ""}})
                .members.front().error,
            E::kNone);
  // (Only b is left, classic: a coordinator with downgrades disabled rebalances it instead.)
  EXPECT_EQ(members_->TakeDowngradable(), std::set<std::string>{"g"});
  members_->Rebalance(*members_->Find("g"));
  ConsumerHeartbeatResult a2 = members_->Heartbeat(join);
  ASSERT_EQ(a2.error, E::kNone) << a2.message;
  JoinRequest back = ClassicJoinRequest("");
  back.instance_id = "host-a";
  ASSERT_EQ(members_->ClassicJoin(back).error, E::kNone);
  EXPECT_EQ(members_->TakeDowngradable(), std::set<std::string>{"g"});
}

TEST_F(ClassicMembersTest, AnUpgradeIsRefusedWhenTheJoiningHeartbeatWouldBe) {
  ConsumerHeartbeatRequest bad = ConsumerJoin("n");
  bad.rebalance_timeout_ms = -1;
  EXPECT_EQ(members_->UpgradeJoinError(bad, 1, false, false)->error, E::kInvalidRequest);
  ConsumerMembership small(*topics_, [] {
    ConsumerProtocolConfig c;
    c.max_size = 2;
    return c;
  }(), io_.get_executor());
  EXPECT_EQ(small.UpgradeJoinError(ConsumerJoin("n"), 2, false, false)->error, E::kGroupMaxSizeReached);
  EXPECT_FALSE(small.UpgradeJoinError(ConsumerJoin("n"), 1, false, false).has_value());
  EXPECT_FALSE(small.UpgradeJoinError(ConsumerJoin("n"), 2, true, false).has_value())
      << "a member joining again under its own id takes no new place";
}

TEST_F(ClassicMembersTest, ClassicMembersComeBackFromTheRecords) {
  Upgrade();
  std::map<std::string, std::map<std::string, std::string>> log;
  for (GroupRecord& r : members_->TakeRecords()) {
    if (DecodeConsumerRecordKey(r.key).ok() && r.value.has_value()) log[r.group][r.key] = *r.value;
  }
  ConsumerMembership reloaded(*topics_, ConsumerProtocolConfig{}, io_.get_executor());
  EXPECT_EQ(reloaded.Load(log), 2u);
  const ConsumerMember* a = reloaded.Find("g")->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->classic.has_value());
  EXPECT_EQ(a->classic->session_timeout_ms, 10000);
  EXPECT_EQ(a->classic_protocol, "range");
  EXPECT_EQ(reloaded.ClassicHeartbeat("g", 3, "a", std::nullopt), E::kNone);
}

}  // namespace
}  // namespace tern::broker::group
