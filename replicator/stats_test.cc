#include "replicator/stats.h"

#include <gtest/gtest.h>

namespace tern::replicator {
namespace {

TEST(StatsTest, CheckpointAgeIsZeroBeforeTheEngineStarts) {
  EngineStats s;
  EXPECT_EQ(CheckpointAgeSeconds(s, 1'000'000), 0);
}

TEST(StatsTest, CheckpointAgeCountsFromStartUntilTheFirstGroupSync) {
  EngineStats s;
  s.start_ms.store(1'000'000);
  EXPECT_EQ(CheckpointAgeSeconds(s, 1'002'500), 2.5);
}

TEST(StatsTest, CheckpointAgeCountsFromTheLastGroupSync) {
  EngineStats s;
  s.start_ms.store(1'000'000);
  s.last_group_sync_ms.store(1'060'000);
  EXPECT_EQ(CheckpointAgeSeconds(s, 1'061'000), 1);
  EXPECT_EQ(CheckpointAgeSeconds(s, 1'059'000), 0);  // the wall clock stepped back
}

TEST(StatsTest, HistogramsCountEachDurationInTheFirstBucketThatHoldsIt) {
  DurationHistogram wait(DurationHistogram::kWaitBounds);
  wait.Observe(0.0001);  // below the first bound
  wait.Observe(0.0005);  // on a bound: that bucket (Prometheus' le)
  wait.Observe(0.003);
  wait.Observe(11);  // above the last bound
  EXPECT_EQ(wait.bucket(0), 2);
  EXPECT_EQ(wait.bucket(3), 1);  // (0.0025, 0.005]
  EXPECT_EQ(wait.bucket(wait.bounds().size()), 1);
  EXPECT_NEAR(wait.sum_seconds(), 11.0036, 1e-6);

  DurationHistogram latency(DurationHistogram::kLatencyBounds);
  latency.Observe(0.003);  // (0.001, 0.005] here
  EXPECT_EQ(latency.bucket(1), 1);
  EXPECT_EQ(&latency.bounds(), &DurationHistogram::kLatencyBounds);
}

}  // namespace
}  // namespace tern::replicator
