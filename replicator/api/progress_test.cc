#include "replicator/api/progress.h"

#include <gtest/gtest.h>

namespace tern::replicator::api {
namespace {

PartitionStatus Published(const std::string& topic, std::int32_t partition, std::int64_t end,
                          std::int64_t replicated, std::int64_t last_timestamp_ms = -1) {
  PartitionStatus p;
  p.source_topic = topic;
  p.partition = partition;
  p.target_topic = "t." + topic;
  p.source_end = end;
  p.replicated = replicated;
  p.last_timestamp_ms = last_timestamp_ms;
  return p;
}

std::pair<SourcePartition, tern::PartitionProgress> Stored(const std::string& topic,
                                                           std::int32_t partition,
                                                           std::int64_t next) {
  tern::PartitionProgress progress;
  progress.next_source_offset = next;
  return {{topic, partition}, progress};
}

void SetReachable(EngineStats& stats, bool source, bool target) {
  stats.SetCluster(ClusterSide::kSource, {source, 1, {}});
  stats.SetCluster(ClusterSide::kTarget, {target, 1, {}});
}

TEST(StateOfTest, RunningWhileCopyingWithBothClustersReachable) {
  EngineStats stats;
  SetReachable(stats, true, true);
  stats.copying = true;
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_RUNNING);
}

TEST(StateOfTest, StartingBeforeTheCopyLoopRunsAndBeforeTheFirstProbe) {
  EngineStats stats;
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_STARTING);
  SetReachable(stats, true, true);
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_STARTING);
}

TEST(StateOfTest, DegradedWhenAClusterIsUnreachableOrTheLoopRestarts) {
  EngineStats stats;
  stats.copying = true;
  SetReachable(stats, true, false);
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_DEGRADED);
  stats.SetCluster(ClusterSide::kTarget, {false, 0, {"refused", 5}});  // never reached
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_DEGRADED);
  SetReachable(stats, true, true);
  stats.copying = false;
  stats.restarts = 1;
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_DEGRADED);
  stats.copying = true;  // restarted and copying again
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_RUNNING);
}

TEST(StateOfTest, StoppingWins) {
  EngineStats stats;
  SetReachable(stats, false, false);
  stats.stopping = true;
  EXPECT_EQ(StateOf(stats), v1::REPLICATOR_STATE_STOPPING);
}

TEST(BuildPartitionsTest, EveryPartitionOfEveryTopicInOrder) {
  PartitionSources sources;
  sources.topics = {{"b", "t.b", 2}, {"a", "t.a", 1}};
  sources.copying = true;
  sources.published = {Published("a", 0, 10, 10), Published("b", 1, 7, 4, 1000),
                       Published("b", 0, 5, 5)};
  const auto out = BuildPartitions(sources, 3500);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].source_topic(), "b");
  EXPECT_EQ(out[0].partition(), 0);
  EXPECT_EQ(out[0].target_topic(), "t.b");
  EXPECT_EQ(out[0].lag_records(), 0);
  EXPECT_EQ(out[0].lag_seconds(), 0);
  EXPECT_EQ(out[1].partition(), 1);
  EXPECT_EQ(out[1].source_end_offset(), 7);
  EXPECT_EQ(out[1].replicated_offset(), 4);
  EXPECT_EQ(out[1].lag_records(), 3);
  EXPECT_DOUBLE_EQ(out[1].lag_seconds(), 2.5);
  EXPECT_EQ(out[2].source_topic(), "a");
  for (const auto& p : out) EXPECT_EQ(p.state(), v1::FLOW_STATE_COPYING) << p.source_topic();
}

TEST(BuildPartitionsTest, PausedTopicShowsItsCommittedProgress) {
  PartitionSources sources;
  sources.topics = {{"a", "a", 2}};
  sources.paused = {"a"};
  sources.copying = true;
  sources.stored = {Stored("a", 0, 42), Stored("a", 1, 7)};
  const auto out = BuildPartitions(sources, 0);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].state(), v1::FLOW_STATE_PAUSED);
  EXPECT_EQ(out[0].replicated_offset(), 42);
  EXPECT_EQ(out[0].source_end_offset(), -1);
  EXPECT_EQ(out[0].lag_records(), -1);
  EXPECT_EQ(out[1].replicated_offset(), 7);
}

TEST(BuildPartitionsTest, PauseNotYetAppliedByTheCopyLoopIsStillCopying) {
  PartitionSources sources;
  sources.topics = {{"a", "a", 1}};
  sources.paused = {"a"};
  sources.copying = true;
  sources.published = {Published("a", 0, 3, 2)};
  EXPECT_EQ(BuildPartitions(sources, 0)[0].state(), v1::FLOW_STATE_COPYING);
  sources.copying = false;
  EXPECT_EQ(BuildPartitions(sources, 0)[0].state(), v1::FLOW_STATE_PAUSED);
}

TEST(BuildPartitionsTest, WaitingWhenNotCopiedYet) {
  PartitionSources sources;
  sources.topics = {{"a", "a", 2}};
  sources.copying = true;
  sources.published = {Published("a", 0, 3, 3)};
  sources.stored = {Stored("a", 1, 9)};
  auto out = BuildPartitions(sources, 0);
  EXPECT_EQ(out[0].state(), v1::FLOW_STATE_COPYING);
  EXPECT_EQ(out[1].state(), v1::FLOW_STATE_WAITING);
  EXPECT_EQ(out[1].replicated_offset(), 9);

  // The copy loop restarting: what it last published is shown, as WAITING.
  sources.copying = false;
  out = BuildPartitions(sources, 0);
  EXPECT_EQ(out[0].state(), v1::FLOW_STATE_WAITING);
  EXPECT_EQ(out[0].replicated_offset(), 3);

  sources.stored.clear();
  EXPECT_EQ(BuildPartitions(sources, 0)[1].replicated_offset(), -1);
}

TEST(BuildPartitionsTest, PublishedErrorIsShown) {
  PartitionSources sources;
  sources.topics = {{"a", "a", 1}};
  sources.copying = true;
  sources.published = {Published("a", 0, 3, 3)};
  sources.published[0].last_error = {"3 records lost", 2500};
  const auto out = BuildPartitions(sources, 0);
  EXPECT_EQ(out[0].last_error().message(), "3 records lost");
  EXPECT_EQ(out[0].last_error().time().seconds(), 2);
  EXPECT_EQ(out[0].last_error().time().nanos(), 500'000'000);
}

TEST(BuildTotalsTest, CountersAndTheSumOfKnownLags) {
  EngineStats stats;
  stats.records_copied = 100;
  stats.bytes_copied = 2000;
  stats.commits = 7;
  stats.restarts = 2;
  stats.records_lost = 3;
  stats.last_commit_ms = 1'700'000'000'123;
  std::vector<v1::PartitionProgress> partitions(3);
  partitions[0].set_lag_records(5);
  partitions[1].set_lag_records(-1);
  partitions[2].set_lag_records(4);
  const v1::Totals totals = BuildTotals(stats, partitions);
  EXPECT_EQ(totals.records_replicated(), 100);
  EXPECT_EQ(totals.bytes_replicated(), 2000);
  EXPECT_EQ(totals.commits(), 7);
  EXPECT_EQ(totals.copy_restarts(), 2);
  EXPECT_EQ(totals.records_lost(), 3);
  EXPECT_EQ(totals.lag_records(), 9);
  EXPECT_EQ(totals.last_commit_time().seconds(), 1'700'000'000);
  EXPECT_EQ(totals.last_commit_time().nanos(), 123'000'000);
  EXPECT_FALSE(BuildTotals(EngineStats{}, {}).has_last_commit_time());
}

}  // namespace
}  // namespace tern::replicator::api
