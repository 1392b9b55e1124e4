#include "replicator/map_rebuild.h"

#include <gtest/gtest.h>

namespace tern::replicator {
namespace {

TEST(MapRebuildTest, TransactionMarkersBetweenSyncs) {
  // Exactly-once: each transaction copied 10 consecutive source offsets and ended with a
  // marker on the target, so the next sync is 11 further downstream.
  auto runs = RunsFromSyncs({{0, 0}, {10, 11}, {20, 22}}, 25, 28);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0], (OffsetRun{0, 0, 10}));
  EXPECT_EQ(runs[1], (OffsetRun{10, 11, 10}));
  EXPECT_EQ(runs[2], (OffsetRun{20, 22, 5}));
}

TEST(MapRebuildTest, SourceGapsAreNotClaimed) {
  // Source offsets 5..9 were not records (e.g. compacted away): the run stops at 5.
  auto runs = RunsFromSyncs({{0, 100}, {10, 105}}, 12, 107);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], (OffsetRun{0, 100, 5}));
  EXPECT_EQ(runs[1], (OffsetRun{10, 105, 2}));
}

TEST(MapRebuildTest, InconsistentSyncsAreDropped) {
  auto runs = RunsFromSyncs({{0, 50}, {10, 40}}, 20, 60);
  // The second sync goes back downstream: the first run gets no length from it and is
  // dropped; the second stands alone.
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0], (OffsetRun{10, 40, 10}));
  EXPECT_TRUE(RunsFromSyncs({}, 10, 10).empty());
}

TEST(MapRebuildTest, ResumeAfterTheLastRecordTheTargetKept) {
  const std::vector<OffsetRun> runs = {{0, 0, 10}, {10, 11, 10}, {25, 22, 5}};
  // The target ends inside the second run: source offset 14 landed at 15, the last kept.
  EXPECT_EQ(ResumeOnShorterTarget(runs, 0, 16).source, 15);
  EXPECT_EQ(ResumeOnShorterTarget(runs, 0, 16).target, 16);
  // It ends on the second transaction's marker: the whole second run is there.
  EXPECT_EQ(ResumeOnShorterTarget(runs, 0, 21).source, 20);
  EXPECT_EQ(ResumeOnShorterTarget(runs, 0, 22).source, 20);
  // One record of the third run (source 25 at 22) is there; 20..24 were a source gap.
  EXPECT_EQ(ResumeOnShorterTarget(runs, 0, 23).source, 26);
}

TEST(MapRebuildTest, ResumeAtTheFloorOnAnEmptiedTarget) {
  const std::vector<OffsetRun> runs = {{40, 0, 10}};
  EXPECT_EQ(ResumeOnShorterTarget(runs, 40, 0).source, 40);
  EXPECT_EQ(ResumeOnShorterTarget(runs, 40, 0).target, 0);
  EXPECT_EQ(ResumeOnShorterTarget({}, -1, 0).source, -1);
  // A re-created target topic whose new records sit below where the map starts.
  EXPECT_EQ(ResumeOnShorterTarget({{0, 100, 10}}, 0, 50).source, 0);
}

}  // namespace
}  // namespace tern::replicator
