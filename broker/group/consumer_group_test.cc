#include "broker/group/consumer_group.h"

#include <gtest/gtest.h>

#include "broker/group/server_assignor.h"

namespace tern::broker::group {
namespace {

kafka::Uuid Id(std::uint8_t n) {
  kafka::Uuid id{};
  id[15] = n;
  return id;
}

const kafka::Uuid kT1 = Id(1);
const kafka::Uuid kT2 = Id(2);

AssignorMember Subscribed(std::set<kafka::Uuid> topics, TopicPartitions current = {}) {
  return AssignorMember{std::move(topics), std::move(current)};
}

TEST(ServerAssignor, UniformSpreadsEvenlyAndKeepsPartitionsWhenAMemberJoins) {
  std::map<std::string, AssignorMember> members{{"a", Subscribed({kT1})},
                                                {"b", Subscribed({kT1})}};
  auto first = Assign(kUniformAssignor, members, {{kT1, 6}});
  EXPECT_EQ(CountPartitions(first["a"]), 3u);
  EXPECT_EQ(CountPartitions(first["b"]), 3u);

  members["a"].current = first["a"];
  members["b"].current = first["b"];
  members["c"] = Subscribed({kT1});
  auto second = Assign(kUniformAssignor, members, {{kT1, 6}});
  for (const char* m : {"a", "b", "c"}) EXPECT_EQ(CountPartitions(second[m]), 2u) << m;
  // a and b each gave up one partition and kept two of their own.
  EXPECT_TRUE(Contains(first["a"], second["a"]));
  EXPECT_TRUE(Contains(first["b"], second["b"]));
  std::set<std::int32_t> all;
  for (const char* m : {"a", "b", "c"}) {
    for (std::int32_t p : second[m][kT1]) EXPECT_TRUE(all.insert(p).second) << "twice: " << p;
  }
  EXPECT_EQ(all.size(), 6u);
}

TEST(ServerAssignor, UniformGivesEachTopicOnlyToItsSubscribers) {
  std::map<std::string, AssignorMember> members{{"a", Subscribed({kT1, kT2})},
                                                {"b", Subscribed({kT2})}};
  auto out = Assign(kUniformAssignor, members, {{kT1, 4}, {kT2, 4}});
  EXPECT_FALSE(out["b"].contains(kT1));
  EXPECT_EQ(out["a"][kT1].size(), 4u);
  // b takes as much of t2 as keeps the totals even: 4 of t2 against a's 4 of t1.
  EXPECT_EQ(CountPartitions(out["a"]), 4u);
  EXPECT_EQ(CountPartitions(out["b"]), 4u);
}

TEST(ServerAssignor, RangeGivesConsecutivePartitionsInMemberOrder) {
  std::map<std::string, AssignorMember> members{{"b", Subscribed({kT1, kT2})},
                                                {"a", Subscribed({kT1, kT2})}};
  auto out = Assign(kRangeAssignor, members, {{kT1, 5}, {kT2, 5}});
  EXPECT_EQ(out["a"][kT1], (std::set<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(out["b"][kT1], (std::set<std::int32_t>{3, 4}));
  EXPECT_EQ(out["a"][kT2], out["a"][kT1]);
  EXPECT_TRUE(KnownAssignor("range"));
  EXPECT_FALSE(KnownAssignor("sticky"));
}

ConsumerMember Member(const std::string& id) {
  ConsumerMember m;
  m.member_id = id;
  m.rebalance_timeout_ms = 1000;
  m.subscribed_topic_names = {"t"};
  m.topics = {"t"};
  return m;
}

TEST(ConsumerGroup, APartitionMovesOnlyAfterItsOwnerRevokedIt) {
  ConsumerGroup g("g");
  ASSERT_TRUE(g.SetSubscribedTopics({{"t", {kT1, 4}}}));
  ConsumerMember& a = g.Add(Member("a"));
  g.BumpEpochAndAssign();
  g.Reconcile(a, nullptr, 0);
  EXPECT_EQ(a.member_epoch, 1);
  EXPECT_EQ(CountPartitions(a.assigned), 4u);
  EXPECT_EQ(g.StateName(), "Stable");

  ConsumerMember& b = g.Add(Member("b"));
  g.BumpEpochAndAssign();
  EXPECT_EQ(g.group_epoch(), 2);
  // b reaches the new epoch but gets nothing a still holds.
  g.Reconcile(b, nullptr, 0);
  EXPECT_EQ(b.member_epoch, 2);
  EXPECT_TRUE(b.assigned.empty());
  EXPECT_EQ(b.state, MemberState::kUnreleasedPartitions);
  EXPECT_EQ(g.StateName(), "Reconciling");

  // a must give two up first, keeping its epoch meanwhile.
  g.Reconcile(a, nullptr, 100);
  EXPECT_EQ(a.state, MemberState::kUnrevokedPartitions);
  EXPECT_EQ(a.member_epoch, 1);
  EXPECT_EQ(CountPartitions(a.assigned), 2u);
  EXPECT_EQ(CountPartitions(a.pending_revocation), 2u);
  EXPECT_EQ(a.revocation_deadline_ms, 1100);
  // Saying it still owns all four changes nothing.
  TopicPartitions all{{kT1, {0, 1, 2, 3}}};
  g.Reconcile(a, &all, 200);
  EXPECT_EQ(a.state, MemberState::kUnrevokedPartitions);
  g.Reconcile(b, nullptr, 200);
  EXPECT_TRUE(b.assigned.empty());

  const TopicPartitions kept = a.assigned;
  g.Reconcile(a, &kept, 300);
  EXPECT_EQ(a.state, MemberState::kStable);
  EXPECT_EQ(a.member_epoch, 2);
  EXPECT_EQ(a.previous_member_epoch, 1);
  g.Reconcile(b, nullptr, 300);
  EXPECT_EQ(b.state, MemberState::kStable);
  EXPECT_EQ(CountPartitions(b.assigned), 2u);
  EXPECT_TRUE(Intersect(a.assigned, b.assigned).empty());
  EXPECT_EQ(g.StateName(), "Stable");
}

TEST(ConsumerGroup, ARemovedMembersPartitionsGoToTheOthers) {
  ConsumerGroup g("g");
  g.SetSubscribedTopics({{"t", {kT1, 4}}});
  ConsumerMember& a = g.Add(Member("a"));
  ConsumerMember& b = g.Add(Member("b"));
  g.BumpEpochAndAssign();
  g.Reconcile(a, nullptr, 0);
  g.Reconcile(b, nullptr, 0);
  ASSERT_EQ(CountPartitions(b.assigned), 2u);
  g.Remove("b");
  g.BumpEpochAndAssign();
  g.Reconcile(a, nullptr, 0);
  EXPECT_EQ(CountPartitions(a.assigned), 4u);
  EXPECT_EQ(a.member_epoch, g.group_epoch());
  EXPECT_FALSE(g.IsSubscribedTo("other"));
  EXPECT_TRUE(g.IsSubscribedTo("t"));
}

TEST(ConsumerGroup, AStaticMembersReplacementTakesItsPartitions) {
  ConsumerGroup g("g");
  g.SetSubscribedTopics({{"t", {kT1, 2}}});
  ConsumerMember m = Member("old");
  m.instance_id = "i-1";
  ConsumerMember& old = g.Add(std::move(m));
  g.BumpEpochAndAssign();
  g.Reconcile(old, nullptr, 0);
  old.previous_member_epoch = old.member_epoch;
  old.member_epoch = kStaticLeaveEpoch;
  ConsumerMember fresh = Member("new");
  fresh.instance_id = "i-1";
  ConsumerMember& n = g.Replace("old", std::move(fresh));
  EXPECT_EQ(g.Find("old"), nullptr);
  EXPECT_EQ(n.member_epoch, 1);
  EXPECT_EQ(CountPartitions(n.assigned), 2u);
  EXPECT_EQ(CountPartitions(g.TargetOf("new")), 2u);
  EXPECT_EQ(g.FindByInstance("i-1"), &n);
}

TEST(ConsumerGroup, TheMostRequestedAssignorWins) {
  ConsumerGroup g("g");
  EXPECT_EQ(g.AssignorName(), "uniform");
  ConsumerMember a = Member("a");
  a.server_assignor = "range";
  g.Add(std::move(a));
  g.Add(Member("b"));
  EXPECT_EQ(g.AssignorName(), "range");
}

}  // namespace
}  // namespace tern::broker::group
