#include "broker/group_commit.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/executor_work_guard.hpp>

#include "broker/storage/test_util.h"

namespace tern::broker {
namespace {

using storage::testing_util::MakeBatch;
using storage::testing_util::OpenOrDie;
using storage::testing_util::TempDir;

class GroupCommitTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::PartitionLog> OpenLog(const std::string& name) {
    return OpenOrDie(tmp_.path() + "/" + name, storage::LogConfig{}, clock_);
  }
  // Waits for `logs` to be durable, running the completion on io_.
  Status Wait(std::vector<std::shared_ptr<storage::PartitionLog>> logs, GroupCommit& commit) {
    Status result = Status::IoError("not completed");
    bool done = false;
    commit.WaitDurable(std::move(logs), [&](Status s) {
      result = std::move(s);
      done = true;
    });
    io_.restart();
    auto work = asio::make_work_guard(io_);  // run_one waits for the posted completion
    while (!done) io_.run_one();
    return result;
  }

  TempDir tmp_;
  storage::testing_util::FakeClock clock_;
  asio::io_context io_;
};

TEST_F(GroupCommitTest, ARoundMakesEveryWaitersLogsDurable) {
  GroupCommit commit(io_.get_executor());
  auto a = OpenLog("a-0");
  auto b = OpenLog("b-0");
  ASSERT_TRUE(a->Append(MakeBatch(3, 0)).ok());
  ASSERT_TRUE(b->Append(MakeBatch(2, 0)).ok());
  ASSERT_TRUE(Wait({a, b}, commit).ok());
  EXPECT_EQ(a->durable_end_offset(), 3);
  EXPECT_EQ(b->durable_end_offset(), 2);
  EXPECT_EQ(a->unsynced_bytes(), 0);
  EXPECT_EQ(b->unsynced_bytes(), 0);
}

TEST_F(GroupCommitTest, LightLoadIsNeverSpaced) {
  GroupCommit commit(io_.get_executor(), {.busy_round_bytes = 1 << 20});
  auto log = OpenLog("t-0");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log->Append(MakeBatch(1, 0)).ok());
    ASSERT_TRUE(Wait({log}, commit).ok());
  }
  EXPECT_EQ(log->durable_end_offset(), 5);
  EXPECT_EQ(commit.rounds(), 5u);
  EXPECT_EQ(commit.spaced_rounds(), 0u);
}

TEST_F(GroupCommitTest, ARoundAfterAHeavyOneIsSpacedAndOneAfterALightOneIsNot) {
  GroupCommit commit(io_.get_executor(),
                     {.busy_round_interval = std::chrono::microseconds(20000),
                      .busy_round_bytes = 1024});
  auto log = OpenLog("t-0");
  ASSERT_TRUE(log->Append(MakeBatch(4, 0, 512)).ok());  // over 1024 bytes: a heavy round
  ASSERT_TRUE(Wait({log}, commit).ok());
  ASSERT_TRUE(log->Append(MakeBatch(1, 0)).ok());  // light, but after a heavy round
  ASSERT_TRUE(Wait({log}, commit).ok());
  ASSERT_TRUE(log->Append(MakeBatch(1, 0)).ok());  // after a light round: at once
  ASSERT_TRUE(Wait({log}, commit).ok());
  EXPECT_EQ(log->durable_end_offset(), 6);
  EXPECT_EQ(commit.rounds(), 3u);
  EXPECT_EQ(commit.spaced_rounds(), 1u);
}

TEST_F(GroupCommitTest, NoIntervalMeansNoSpacing) {
  GroupCommit commit(io_.get_executor(),
                     {.busy_round_interval = std::chrono::microseconds(0), .busy_round_bytes = 1});
  auto log = OpenLog("t-0");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(log->Append(MakeBatch(2, 0, 256)).ok());
    ASSERT_TRUE(Wait({log}, commit).ok());
  }
  EXPECT_EQ(commit.rounds(), 3u);
  EXPECT_EQ(commit.spaced_rounds(), 0u);
}

TEST_F(GroupCommitTest, StoppingDuringTheIntervalCompletesWhatIsQueued) {
  auto log = OpenLog("t-0");
  Status result = Status::IoError("not completed");
  {
    GroupCommit commit(io_.get_executor(),
                       {.busy_round_interval = std::chrono::microseconds(1000000),
                        .busy_round_bytes = 1});
    ASSERT_TRUE(log->Append(MakeBatch(2, 0)).ok());
    ASSERT_TRUE(Wait({log}, commit).ok());
    ASSERT_TRUE(log->Append(MakeBatch(1, 0)).ok());
    commit.WaitDurable({log}, [&](Status s) { result = std::move(s); });
  }  // the destructor ends the one-second wait and completes the waiter
  io_.restart();
  io_.run();
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(log->durable_end_offset(), 3);
}

}  // namespace
}  // namespace tern::broker
