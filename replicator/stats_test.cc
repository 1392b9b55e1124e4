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

}  // namespace
}  // namespace tern::replicator
