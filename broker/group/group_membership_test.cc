#include "broker/group/group_membership.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "broker/group/group_coordinator.h"
#include "broker/storage/test_util.h"

namespace tern::broker::group {
namespace {

using E = kafka::ErrorCode;
using storage::testing_util::TempDir;

constexpr std::int16_t kVersion = 9;  // JoinGroup's newest

class GroupMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    topics_ = std::make_unique<Topics>(dir_.path(), BrokerLogDefaults{});
    ASSERT_TRUE(topics_->Load().ok());
    group_commit_ = std::make_unique<GroupCommit>(io_.get_executor(),
                                                  GroupCommit::Options{.sync_threads = 2});
    OffsetStoreOptions options;
    options.partitions = 3;
    auto store = OffsetStore::Open(*topics_, *group_commit_, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    GroupCoordinatorConfig config;
    config.membership = membership_config_;
    coordinator_ = std::make_unique<GroupCoordinator>(std::move(store).value(), config, *topics_,
                                                      io_.get_executor());
  }

  void Close() {
    coordinator_.reset();
    // Handlers still queued find the coordinator gone and do nothing.
    io_.restart();
    io_.poll();
    group_commit_.reset();
    if (topics_) topics_->ForEachLog([](storage::PartitionLog& log) { (void)log.Close(); });
    topics_.reset();
  }

  void Reopen() {
    Close();
    Open();
  }

  GroupMembership& membership() { return coordinator_->membership(); }

  // Starts `op` on the io_context; the result appears once it completes.
  template <typename T>
  std::shared_ptr<std::optional<T>> Start(asio::awaitable<T> op) {
    auto result = std::make_shared<std::optional<T>>();
    asio::co_spawn(io_, std::move(op), [result](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      *result = std::move(value);
    });
    return result;
  }

  // Runs the io_context until `done` holds; false after `timeout`.
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    io_.restart();
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  template <typename T>
  T Await(asio::awaitable<T> op) {
    auto result = Start(std::move(op));
    EXPECT_TRUE(RunUntil([&] { return result->has_value(); }));
    return result->has_value() ? std::move(**result) : T{};
  }

  void RunFor(std::chrono::milliseconds d) {
    RunUntil([] { return false; }, d);
  }

  JoinRequest Join(std::string member_id, std::vector<JoinProtocol> protocols = {{"range", "m"}},
                   std::optional<std::string> instance = std::nullopt) {
    JoinRequest r;
    r.group_id = "g";
    r.member_id = std::move(member_id);
    r.instance_id = std::move(instance);
    r.client_id = "client";
    r.client_host = "/127.0.0.1";
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 300;
    r.protocol_type = "consumer";
    r.protocols = std::move(protocols);
    r.version = kVersion;
    return r;
  }

  // A dynamic member's id: the one MEMBER_ID_REQUIRED hands out.
  std::string NewMemberId() {
    JoinResult r = Await(membership().Join(Join("")));
    EXPECT_EQ(r.error, E::kMemberIdRequired);
    EXPECT_EQ(r.member_id.rfind("client-", 0), 0u) << r.member_id;
    return r.member_id;
  }

  SyncResult Sync(const std::string& member, std::int32_t generation,
                  std::vector<std::pair<std::string, std::string>> assignments = {}) {
    SyncRequest s;
    s.group_id = "g";
    s.generation = generation;
    s.member_id = member;
    s.protocol_type = "consumer";
    s.protocol_name = "range";
    s.assignments = std::move(assignments);
    return Await(membership().Sync(std::move(s)));
  }

  // Two members through a whole rebalance: both Stable at generation 1, a leading.
  std::pair<std::string, std::string> TwoStableMembers() {
    const std::string a = NewMemberId();
    const std::string b = NewMemberId();
    auto ja = Start(membership().Join(Join(a)));
    auto jb = Start(membership().Join(Join(b)));
    EXPECT_TRUE(RunUntil([&] { return ja->has_value() && jb->has_value(); }));
    EXPECT_EQ((*ja)->generation, 1);
    EXPECT_EQ((*ja)->leader, a);
    EXPECT_EQ((*ja)->members.size(), 2u);
    EXPECT_TRUE((*jb)->members.empty());
    auto sb = Start(membership().Sync([&] {
      SyncRequest s;
      s.group_id = "g";
      s.generation = 1;
      s.member_id = b;
      return s;
    }()));
    RunFor(std::chrono::milliseconds(20));
    EXPECT_FALSE(sb->has_value()) << "a follower waits for the leader's assignment";
    SyncResult sa = Sync(a, 1, {{a, "for-a"}, {b, "for-b"}});
    EXPECT_EQ(sa.error, E::kNone);
    EXPECT_EQ(sa.assignment, "for-a");
    EXPECT_TRUE(RunUntil([&] { return sb->has_value(); }));
    EXPECT_EQ((*sb)->assignment, "for-b");
    EXPECT_EQ((*sb)->protocol_name, "range");
    return {a, b};
  }

  TempDir dir_;
  asio::io_context io_;
  MembershipConfig membership_config_{.initial_rebalance_delay_ms = 50,
                                      .min_session_timeout_ms = 10,
                                      .max_session_timeout_ms = 60000,
                                      .max_size = 100,
                                      .new_member_join_timeout_ms = 300000};
  std::unique_ptr<Topics> topics_;
  std::unique_ptr<GroupCommit> group_commit_;
  std::unique_ptr<GroupCoordinator> coordinator_;
};

TEST_F(GroupMembershipTest, FirstJoinWithoutAnIdGetsOneWithMemberIdRequired) {
  const std::string id = NewMemberId();
  JoinResult r = Await(membership().Join(Join(id)));
  EXPECT_EQ(r.error, E::kNone);
  EXPECT_EQ(r.member_id, id);
  EXPECT_EQ(r.generation, 1);
  EXPECT_EQ(r.leader, id);
  EXPECT_EQ(r.protocol_name, "range");
  ASSERT_EQ(r.members.size(), 1u);
  EXPECT_EQ(r.members[0].metadata, "m");
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kCompletingRebalance);
}

TEST_F(GroupMembershipTest, Version3JoinsWithoutAnId) {
  JoinRequest request = Join("");
  request.version = 3;
  JoinResult r = Await(membership().Join(request));
  EXPECT_EQ(r.error, E::kNone);
  EXPECT_FALSE(r.member_id.empty());
  EXPECT_EQ(r.generation, 1);
}

TEST_F(GroupMembershipTest, TwoMembersRebalanceToStable) {
  auto [a, b] = TwoStableMembers();
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kStable);
  EXPECT_EQ(membership().Heartbeat("g", 1, a, std::nullopt), E::kNone);
  EXPECT_EQ(membership().Heartbeat("g", 0, a, std::nullopt), E::kIllegalGeneration);
  EXPECT_EQ(membership().Heartbeat("g", 1, "nobody", std::nullopt), E::kUnknownMemberId);
  EXPECT_EQ(membership().Heartbeat("other", 1, a, std::nullopt), E::kUnknownMemberId);
  // A stable group answers SyncGroup with the current assignment at once.
  EXPECT_EQ(Sync(b, 1).assignment, "for-b");
}

TEST_F(GroupMembershipTest, ANewMemberMakesTheOthersRejoin) {
  auto [a, b] = TwoStableMembers();
  const std::string c = NewMemberId();
  auto jc = Start(membership().Join(Join(c)));
  RunFor(std::chrono::milliseconds(20));
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(membership().Heartbeat("g", 1, a, std::nullopt), E::kRebalanceInProgress);
  EXPECT_EQ(Sync(b, 1).error, E::kRebalanceInProgress);
  // Commits of the old generation are still accepted while the members rejoin.
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", 1, a, std::nullopt, 8), E::kNone);
  auto ja = Start(membership().Join(Join(a)));
  auto jb = Start(membership().Join(Join(b)));
  ASSERT_TRUE(RunUntil([&] { return ja->has_value() && jb->has_value() && jc->has_value(); }));
  EXPECT_EQ((*jc)->generation, 2);
  EXPECT_EQ((*ja)->leader, a);
  EXPECT_EQ((*ja)->members.size(), 3u);
  // CompletingRebalance: the leader has not assigned yet.
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", 2, b, std::nullopt, 8),
            E::kRebalanceInProgress);
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", 1, b, std::nullopt, 8),
            E::kIllegalGeneration);
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", -1, "", std::nullopt, 8),
            E::kUnknownMemberId);
}

TEST_F(GroupMembershipTest, MembersThatDoNotRejoinInTimeAreRemoved) {
  auto [a, b] = TwoStableMembers();
  // a rejoins (the leader asks for a rebalance), b never does: after the rebalance timeout the
  // generation goes on without it.
  JoinRequest request = Join(a);
  request.rebalance_timeout_ms = 100;
  auto ja = Start(membership().Join(request));
  ASSERT_TRUE(RunUntil([&] { return ja->has_value(); }));
  EXPECT_EQ((*ja)->generation, 2);
  ASSERT_EQ((*ja)->members.size(), 1u);
  EXPECT_EQ(membership().Heartbeat("g", 2, b, std::nullopt), E::kUnknownMemberId);
}

TEST_F(GroupMembershipTest, AnExpiredSessionRemovesTheMemberAndRebalances) {
  const std::string a = NewMemberId();
  JoinRequest request = Join(a);
  request.session_timeout_ms = 50;
  ASSERT_EQ(Await(membership().Join(request)).error, E::kNone);
  ASSERT_EQ(Sync(a, 1, {{a, "x"}}).error, E::kNone);
  RunFor(std::chrono::milliseconds(200));
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kEmpty);
  EXPECT_EQ(membership().Find("g")->generation(), 2);
  EXPECT_EQ(membership().Heartbeat("g", 1, a, std::nullopt), E::kUnknownMemberId);
}

TEST_F(GroupMembershipTest, LeavingMembersTriggerARebalance) {
  auto [a, b] = TwoStableMembers();
  LeaveResult left = membership().Leave("g", {{b, std::nullopt, "bye"}, {"x", std::nullopt, ""}});
  EXPECT_EQ(left.error, E::kNone);
  ASSERT_EQ(left.members.size(), 2u);
  EXPECT_EQ(left.members[0].error, E::kNone);
  EXPECT_EQ(left.members[1].error, E::kUnknownMemberId);
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(membership().Leave("nope", {{a, std::nullopt, ""}}).error, E::kUnknownMemberId);
}

TEST_F(GroupMembershipTest, ProtocolIsChosenByVoteAmongThoseEveryoneSupports) {
  const std::string a = NewMemberId();
  const std::string b = NewMemberId();
  const std::string c = NewMemberId();
  auto ja = Start(membership().Join(Join(a, {{"roundrobin", "1"}, {"range", "1"}})));
  auto jb =
      Start(membership().Join(Join(b, {{"sticky", "2"}, {"range", "2"}, {"roundrobin", "2"}})));
  auto jc = Start(membership().Join(Join(c, {{"range", "3"}, {"roundrobin", "3"}})));
  ASSERT_TRUE(RunUntil([&] { return ja->has_value() && jb->has_value() && jc->has_value(); }));
  EXPECT_EQ((*ja)->protocol_name, "range");  // b and c prefer it; sticky is not common
  // A member supporting none of the group's protocols is refused.
  JoinResult r = Await(membership().Join(Join("", {{"cooperative-sticky", ""}})));
  EXPECT_EQ(r.error, E::kInconsistentGroupProtocol);
  JoinRequest other_type = Join("");
  other_type.protocol_type = "connect";
  EXPECT_EQ(Await(membership().Join(other_type)).error, E::kInconsistentGroupProtocol);
}

TEST_F(GroupMembershipTest, SessionTimeoutOutsideTheLimitsIsRefused) {
  JoinRequest request = Join("");
  request.session_timeout_ms = 70000;
  EXPECT_EQ(Await(membership().Join(request)).error, E::kInvalidSessionTimeout);
  request = Join("unknown-id");
  EXPECT_EQ(Await(membership().Join(request)).error, E::kUnknownMemberId);
}

TEST_F(GroupMembershipTest, GroupMaxSizeRefusesMoreMembers) {
  Close();
  membership_config_.max_size = 1;
  Open();
  const std::string a = NewMemberId();
  ASSERT_EQ(Await(membership().Join(Join(a))).error, E::kNone);
  ASSERT_EQ(Sync(a, 1, {{a, "x"}}).error, E::kNone);
  EXPECT_EQ(Await(membership().Join(Join(""))).error, E::kGroupMaxSizeReached);
}

TEST_F(GroupMembershipTest, StaticMemberTakesItsPlaceBackWithoutARebalance) {
  auto j = Start(membership().Join(Join("", {{"range", "m"}}, "instance-1")));
  ASSERT_TRUE(RunUntil([&] { return j->has_value(); }));
  const std::string first = (*j)->member_id;
  EXPECT_EQ(first.rfind("instance-1-", 0), 0u) << first;
  ASSERT_EQ(Sync(first, 1, {{first, "mine"}}).error, E::kNone);

  // Restarted: no member id, the same instance id and metadata.
  JoinResult again = Await(membership().Join(Join("", {{"range", "m"}}, "instance-1")));
  EXPECT_EQ(again.error, E::kNone);
  EXPECT_NE(again.member_id, first);
  EXPECT_EQ(again.generation, 1);
  EXPECT_TRUE(again.skip_assignment);  // it leads, and keeps the assignment it has
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kStable);
  SyncRequest s;
  s.group_id = "g";
  s.generation = 1;
  s.member_id = again.member_id;
  s.instance_id = "instance-1";
  EXPECT_EQ(Await(membership().Sync(s)).assignment, "mine");
  // The old id is fenced.
  EXPECT_EQ(membership().Heartbeat("g", 1, first, std::string("instance-1")),
            E::kFencedInstanceId);
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", 1, first, std::string("instance-1"), 8),
            E::kFencedInstanceId);
}

TEST_F(GroupMembershipTest, GroupsAreRebuiltFromTheirRecords) {
  auto [a, b] = TwoStableMembers();
  Reopen();
  const ClassicGroup* g = membership().Find("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->state(), GroupState::kStable);
  EXPECT_EQ(g->generation(), 1);
  EXPECT_EQ(g->leader(), a);
  EXPECT_EQ(g->protocol_name(), "range");
  ASSERT_EQ(g->members().size(), 2u);
  EXPECT_EQ(g->Find(b)->assignment, "for-b");
  EXPECT_EQ(g->Find(b)->client_host, "/127.0.0.1");
  // The members carry on where they were.
  EXPECT_EQ(membership().Heartbeat("g", 1, b, std::nullopt), E::kNone);
  EXPECT_EQ(coordinator_->ValidateOffsetCommit("g", 1, a, std::nullopt, 8), E::kNone);
}

TEST_F(GroupMembershipTest, AGroupWithMembersCannotBeDeletedButAnEmptyOneCan) {
  auto [a, b] = TwoStableMembers();
  auto deleted = Start(coordinator_->DeleteGroup("g"));
  ASSERT_TRUE(RunUntil([&] { return deleted->has_value(); }));
  EXPECT_EQ(**deleted, E::kNonEmptyGroup);
  membership().Leave("g", {{a, std::nullopt, ""}, {b, std::nullopt, ""}});
  ASSERT_TRUE(RunUntil([&] { return coordinator_->StateOf("g") == GroupState::kEmpty; }));
  deleted = Start(coordinator_->DeleteGroup("g"));
  ASSERT_TRUE(RunUntil([&] { return deleted->has_value(); }));
  EXPECT_EQ(**deleted, E::kNone);
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kDead);
  Reopen();
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kDead);
}

TEST_F(GroupMembershipTest, OffsetsOfAGroupWithMembersDoNotExpireUntilItIsEmpty) {
  // A consumer subscription (version 0: topics ["a"], no user data) for every member.
  const std::string subscription("\x00\x00" "\x00\x00\x00\x01" "\x00\x01" "a"
                                 "\xff\xff\xff\xff", 13);
  const std::string a = NewMemberId();
  ASSERT_EQ(Await(membership().Join(Join(a, {{"range", subscription}}))).error, E::kNone);
  ASSERT_EQ(Sync(a, 1, {{a, "x"}}).error, E::kNone);
  const std::int64_t now = storage::SystemClockMs();
  const std::int64_t retention = coordinator_->config().offsets_retention_ms;
  const auto old = [&](std::int64_t offset) {
    return OffsetCommitValue{.offset = offset, .leader_epoch = -1, .metadata = "",
                             .commit_timestamp_ms = now - 2 * retention,
                             .expire_timestamp_ms = -1};
  };
  ASSERT_TRUE(Await(coordinator_->offsets().Write("g", {{"a", 0, old(5)}, {"b", 0, old(7)}}))
                  .ok());
  EXPECT_TRUE(coordinator_->SubscribedTo("g", "a"));
  EXPECT_FALSE(coordinator_->SubscribedTo("g", "b"));
  // Stable: only the topic the members no longer subscribe to expires.
  EXPECT_EQ(Await(coordinator_->ExpireOffsets(now)), 1u);
  EXPECT_NE(coordinator_->offsets().Find("g", "a", 0), nullptr);
  EXPECT_EQ(coordinator_->offsets().Find("g", "b", 0), nullptr);

  // Empty: the retention runs from the time the group became empty.
  membership().Leave("g", {{a, std::nullopt, ""}});
  ASSERT_EQ(coordinator_->StateOf("g"), GroupState::kEmpty);
  EXPECT_EQ(Await(coordinator_->ExpireOffsets(now)), 0u);
  EXPECT_EQ(Await(coordinator_->ExpireOffsets(now + retention + 60000)), 1u);
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kDead);
}

TEST_F(GroupMembershipTest, AnEmptyGroupWithoutOffsetsIsDeletedByTheExpiryPass) {
  auto [a, b] = TwoStableMembers();
  membership().Leave("g", {{a, std::nullopt, ""}, {b, std::nullopt, ""}});
  ASSERT_EQ(coordinator_->StateOf("g"), GroupState::kEmpty);
  EXPECT_EQ(coordinator_->Groups(), std::vector<std::string>{"g"});
  Await(coordinator_->ExpireOffsets(storage::SystemClockMs()));
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kDead);
  Reopen();
  EXPECT_EQ(coordinator_->StateOf("g"), GroupState::kDead);
}

}  // namespace
}  // namespace tern::broker::group
