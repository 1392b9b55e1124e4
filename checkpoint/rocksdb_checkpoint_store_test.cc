#include "checkpoint/rocksdb_checkpoint_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "common/big_endian.h"

namespace tern {

// For assertions; in namespace tern so that GoogleTest finds them by argument lookup.
void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }

bool operator==(const TranslatedOffset& a, const TranslatedOffset& b) {
  return a.kind == b.kind && (a.kind != Translation::kExact || a.offset == b.offset);
}

std::ostream& operator<<(std::ostream& os, const TranslatedOffset& t) {
  switch (t.kind) {
    case Translation::kExact: return os << "exact " << t.offset;
    case Translation::kBeforeMap: return os << "before map";
    case Translation::kAheadOfReplication: return os << "ahead of replication";
  }
  return os << "?";
}

std::ostream& operator<<(std::ostream& os, const OffsetRun& r) {
  return os << "{" << r.upstream << "->" << r.downstream << " x" << r.length << "}";
}

namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::int64_t kEverything = std::numeric_limits<std::int64_t>::max();

SourcePartition P(std::string topic, std::int32_t partition = 0) {
  return SourcePartition{std::move(topic), partition};
}

PartitionProgress MakeProgress(std::int64_t next_source, std::int64_t next_target,
                               std::string incarnation = "", std::int64_t updated_ms = 1000) {
  PartitionProgress progress;
  progress.next_source_offset = next_source;
  progress.next_target_offset = next_target;
  progress.topic_incarnation = std::move(incarnation);
  progress.updated_ms = updated_ms;
  return progress;
}

PartitionUpdate Update(const SourcePartition& p, std::vector<OffsetRun> runs,
                       PartitionProgress progress) {
  return PartitionUpdate{p, std::move(runs), std::move(progress)};
}

TranslatedOffset Exact(std::int64_t offset) { return {Translation::kExact, offset}; }
TranslatedOffset Ahead() { return {Translation::kAheadOfReplication, -1}; }
TranslatedOffset BeforeMap() { return {Translation::kBeforeMap, -1}; }

// The value of `r`, or a failed test and a default T.
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return T{};
  }
  return std::move(r).value();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> Listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

class RocksDbCheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = (fs::path(::testing::TempDir()) /
            ("tern_checkpoint_" + test + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++)))
               .string();
    fs::remove_all(dir_);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Opens (or reopens) the store in dir_ into store_.
  void Open() {
    store_.reset();
    auto store = OpenRocksDbCheckpointStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::vector<OffsetRun> AllRuns(const SourcePartition& p) {
    return Must(store_->Runs(p, 0, kEverything));
  }
  TranslatedOffset Translate(const SourcePartition& p, std::int64_t offset) {
    return Must(store_->Translate(p, offset));
  }
  std::optional<PartitionProgress> ProgressOf(const SourcePartition& p) {
    return Must(store_->Progress(p));
  }
  std::int64_t FloorOf(const SourcePartition& p) { return Must(store_->Floor(p)); }

  std::string dir_;
  std::unique_ptr<CheckpointStore> store_;
};

TEST_F(RocksDbCheckpointStoreTest, CommitAndProgressRoundTrip) {
  Open();
  const auto orders = P("orders", 3);
  const std::string incarnation("\x01\x00\xff topic-id 16b", 16);
  const auto progress = MakeProgress(110, 5010, incarnation, 1700000000123);
  ASSERT_EQ(store_->Commit({Update(orders, {{100, 5000, 10}}, progress)}), Status::Ok());

  EXPECT_EQ(ProgressOf(orders), progress);
  EXPECT_THAT(AllRuns(orders), ElementsAre(OffsetRun{100, 5000, 10}));
  EXPECT_EQ(FloorOf(orders), 100);

  EXPECT_EQ(ProgressOf(P("orders", 4)), std::nullopt);
  EXPECT_EQ(FloorOf(P("orders", 4)), -1);
  EXPECT_THAT(AllRuns(P("orders", 4)), IsEmpty());
  EXPECT_EQ(store_->Commit({}), Status::Ok());
}

TEST_F(RocksDbCheckpointStoreTest, ReopenKeepsEverything) {
  Open();
  ASSERT_EQ(store_->Commit({Update(P("a", 0), {{0, 10, 5}, {7, 15, 3}}, MakeProgress(12, 18, "x")),
                            Update(P("b", 1), {}, MakeProgress(40, 0))}),
            Status::Ok());
  ASSERT_EQ(store_->TrimBelow(P("a", 0), 6), Status::Ok());
  Open();

  EXPECT_EQ(ProgressOf(P("a", 0)), MakeProgress(12, 18, "x"));
  EXPECT_EQ(ProgressOf(P("b", 1)), MakeProgress(40, 0));
  EXPECT_THAT(AllRuns(P("a", 0)), ElementsAre(OffsetRun{7, 15, 3}));
  EXPECT_EQ(FloorOf(P("a", 0)), 6);
  EXPECT_EQ(FloorOf(P("b", 1)), 40);
  EXPECT_EQ(Translate(P("a", 0), 8), Exact(16));
  EXPECT_EQ(Must(store_->AllProgress()).size(), 2u);
}

TEST_F(RocksDbCheckpointStoreTest, ContiguousRunsExtendTheStoredRun) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->Commit({Update(p, {{0, 100, 10}}, MakeProgress(10, 110))}), Status::Ok());
  ASSERT_EQ(store_->Commit({Update(p, {{10, 110, 5}}, MakeProgress(15, 115))}), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 15}));

  // Upstream continues but downstream jumps (another producer wrote to the target): new run.
  ASSERT_EQ(store_->Commit({Update(p, {{15, 120, 5}}, MakeProgress(20, 125))}), Status::Ok());
  // Downstream continues but upstream jumps (a gap at the source): new run.
  ASSERT_EQ(store_->Commit({Update(p, {{25, 125, 5}}, MakeProgress(30, 130))}), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 15}, OffsetRun{15, 120, 5},
                                      OffsetRun{25, 125, 5}));

  // Contiguous runs within one update merge with each other and with the stored run.
  ASSERT_EQ(store_->Commit({Update(p, {{30, 130, 5}, {35, 135, 5}, {40, 140, 2}, {50, 142, 1}},
                                   MakeProgress(51, 143))}),
            Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 15}, OffsetRun{15, 120, 5},
                                      OffsetRun{25, 125, 17}, OffsetRun{50, 142, 1}));
  EXPECT_EQ(FloorOf(p), 0);
}

TEST_F(RocksDbCheckpointStoreTest, OneCommitMayNameAPartitionTwice) {
  Open();
  const auto p = P("t", 2);
  ASSERT_EQ(store_->Commit({Update(p, {{5, 50, 5}}, MakeProgress(10, 55)),
                            Update(P("u"), {{0, 0, 1}}, MakeProgress(1, 1)),
                            Update(p, {{10, 55, 5}, {20, 60, 1}}, MakeProgress(21, 61))}),
            Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{5, 50, 10}, OffsetRun{20, 60, 1}));
  EXPECT_EQ(ProgressOf(p), MakeProgress(21, 61));
  EXPECT_EQ(FloorOf(p), 5);
  EXPECT_THAT(AllRuns(P("u")), ElementsAre(OffsetRun{0, 0, 1}));
}

TEST_F(RocksDbCheckpointStoreTest, TranslatesInRunsGapsAndAtTheEnd) {
  Open();
  const auto p = P("t");
  // Source 100..109 -> target 1000..1009; source 110..119 is a gap (e.g. compacted away);
  // source 120..124 -> target 1010..1014; source 125..129 were skipped (not copied).
  ASSERT_EQ(
      store_->Commit({Update(p, {{100, 1000, 10}, {120, 1010, 5}}, MakeProgress(130, 1015))}),
      Status::Ok());

  EXPECT_EQ(Translate(p, 100), Exact(1000));
  EXPECT_EQ(Translate(p, 105), Exact(1005));
  EXPECT_EQ(Translate(p, 109), Exact(1009));
  EXPECT_EQ(Translate(p, 110), Exact(1010));  // gap: the next run's first target offset
  EXPECT_EQ(Translate(p, 119), Exact(1010));
  EXPECT_EQ(Translate(p, 120), Exact(1010));
  EXPECT_EQ(Translate(p, 124), Exact(1014));
  EXPECT_EQ(Translate(p, 125), Exact(1015));  // the end of the last run
  EXPECT_EQ(Translate(p, 130), Exact(1015));  // == next_source_offset
  EXPECT_EQ(Translate(p, 131), Ahead());
  EXPECT_EQ(Translate(p, kEverything), Ahead());
  // The floor is the first run's upstream: below it nothing is mapped.
  EXPECT_EQ(Translate(p, 99), BeforeMap());
  EXPECT_EQ(Translate(p, 0), BeforeMap());
  EXPECT_EQ(Translate(p, -1), BeforeMap());

  EXPECT_EQ(Translate(P("never-seen"), 0), Ahead());
}

TEST_F(RocksDbCheckpointStoreTest, TranslatesBeforeTheFirstRunAboveTheFloor) {
  Open();
  const auto p = P("t");
  // The first commit copied nothing: the floor is the progress, 50.
  ASSERT_EQ(store_->Commit({Update(p, {}, MakeProgress(50, 7))}), Status::Ok());
  EXPECT_EQ(FloorOf(p), 50);
  EXPECT_EQ(Translate(p, 50), Exact(7));  // no runs: where the next copied record lands
  EXPECT_EQ(Translate(p, 49), BeforeMap());
  EXPECT_EQ(Translate(p, 51), Ahead());

  ASSERT_EQ(store_->Commit({Update(p, {{60, 1000, 10}}, MakeProgress(70, 1010))}), Status::Ok());
  EXPECT_EQ(FloorOf(p), 50);
  EXPECT_EQ(Translate(p, 50), Exact(1000));
  EXPECT_EQ(Translate(p, 55), Exact(1000));
  EXPECT_EQ(Translate(p, 59), Exact(1000));
  EXPECT_EQ(Translate(p, 60), Exact(1000));
  EXPECT_EQ(Translate(p, 49), BeforeMap());
}

TEST_F(RocksDbCheckpointStoreTest, RunsReturnsTheRunsIntersectingARange) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->Commit({Update(p, {{0, 100, 10}, {20, 110, 10}, {40, 120, 10}},
                                   MakeProgress(50, 130))}),
            Status::Ok());
  EXPECT_THAT(Must(store_->Runs(p, 5, 25)),
              ElementsAre(OffsetRun{0, 100, 10}, OffsetRun{20, 110, 10}));
  EXPECT_THAT(Must(store_->Runs(p, 10, 20)), IsEmpty());
  EXPECT_THAT(Must(store_->Runs(p, 9, 10)), ElementsAre(OffsetRun{0, 100, 10}));
  EXPECT_THAT(Must(store_->Runs(p, 20, 21)), ElementsAre(OffsetRun{20, 110, 10}));
  EXPECT_THAT(Must(store_->Runs(p, -5, 1)), ElementsAre(OffsetRun{0, 100, 10}));
  EXPECT_THAT(Must(store_->Runs(p, 45, kEverything)), ElementsAre(OffsetRun{40, 120, 10}));
  EXPECT_THAT(Must(store_->Runs(p, 50, kEverything)), IsEmpty());
  EXPECT_THAT(Must(store_->Runs(p, 25, 25)), IsEmpty());
  EXPECT_THAT(Must(store_->Runs(p, 30, 5)), IsEmpty());
}

TEST_F(RocksDbCheckpointStoreTest, TruncateFromInsideARunShortensIt) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->Commit({Update(p, {{0, 100, 10}, {20, 110, 10}, {40, 120, 10}},
                                   MakeProgress(50, 130))}),
            Status::Ok());
  ASSERT_EQ(store_->TruncateFrom(p, 25, MakeProgress(25, 115)), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 10}, OffsetRun{20, 110, 5}));
  EXPECT_EQ(ProgressOf(p), MakeProgress(25, 115));
  EXPECT_EQ(FloorOf(p), 0);
  EXPECT_EQ(Translate(p, 24), Exact(114));
  EXPECT_EQ(Translate(p, 25), Exact(115));
  EXPECT_EQ(Translate(p, 26), Ahead());

  // Replication resumes where the target was; the shortened run is extended again.
  ASSERT_EQ(store_->Commit({Update(p, {{25, 115, 3}}, MakeProgress(28, 118))}), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 10}, OffsetRun{20, 110, 8}));
}

TEST_F(RocksDbCheckpointStoreTest, TruncateFromBetweenRunsAndAtARunStart) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->Commit({Update(p, {{0, 100, 10}, {20, 110, 10}, {40, 120, 10}},
                                   MakeProgress(50, 130))}),
            Status::Ok());
  ASSERT_EQ(store_->TruncateFrom(p, 40, MakeProgress(40, 120)), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 10}, OffsetRun{20, 110, 10}));

  ASSERT_EQ(store_->TruncateFrom(p, 15, MakeProgress(15, 110)), Status::Ok());
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 10}));
  EXPECT_EQ(Translate(p, 12), Exact(110));
  EXPECT_EQ(Translate(p, 15), Exact(110));
  EXPECT_EQ(Translate(p, 16), Ahead());

  // A progress below the runs that stay would contradict them: refused, nothing changed.
  const Status s = store_->TruncateFrom(p, 15, MakeProgress(8, 108));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(ProgressOf(p), MakeProgress(15, 110));
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 100, 10}));

  ASSERT_EQ(store_->TruncateFrom(p, 0, MakeProgress(0, 100)), Status::Ok());
  EXPECT_THAT(AllRuns(p), IsEmpty());
  EXPECT_EQ(ProgressOf(p), MakeProgress(0, 100));
}

TEST_F(RocksDbCheckpointStoreTest, TruncateFromOnAnUnknownPartitionStartsIt) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->TruncateFrom(p, 30, MakeProgress(30, 300)), Status::Ok());
  EXPECT_EQ(ProgressOf(p), MakeProgress(30, 300));
  EXPECT_EQ(FloorOf(p), 30);
  EXPECT_EQ(Translate(p, 30), Exact(300));
}

TEST_F(RocksDbCheckpointStoreTest, TrimBelowDropsWholeRunsAndRaisesTheFloor) {
  Open();
  const auto p = P("t");
  ASSERT_EQ(store_->Commit({Update(p, {{0, 100, 10}, {20, 110, 10}, {40, 120, 10}},
                                   MakeProgress(50, 130))}),
            Status::Ok());
  ASSERT_EQ(store_->TrimBelow(p, 25), Status::Ok());
  // The run crossing 25 stays whole.
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{20, 110, 10}, OffsetRun{40, 120, 10}));
  EXPECT_EQ(FloorOf(p), 25);
  EXPECT_EQ(Translate(p, 25), Exact(115));
  EXPECT_EQ(Translate(p, 22), Exact(112));
  EXPECT_EQ(Translate(p, 10), BeforeMap());
  EXPECT_EQ(Translate(p, 0), BeforeMap());
  EXPECT_EQ(Translate(p, 35), Exact(120));

  // The floor only rises.
  ASSERT_EQ(store_->TrimBelow(p, 10), Status::Ok());
  EXPECT_EQ(FloorOf(p), 25);
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{20, 110, 10}, OffsetRun{40, 120, 10}));

  ASSERT_EQ(store_->TrimBelow(p, 50), Status::Ok());
  EXPECT_THAT(AllRuns(p), IsEmpty());
  EXPECT_EQ(FloorOf(p), 50);
  EXPECT_EQ(Translate(p, 49), BeforeMap());
  EXPECT_EQ(Translate(p, 50), Exact(130));  // the progress' target offset
  EXPECT_EQ(ProgressOf(p), MakeProgress(50, 130));

  // Nothing to trim in a partition the store does not know.
  ASSERT_EQ(store_->TrimBelow(P("other"), 10), Status::Ok());
  EXPECT_EQ(FloorOf(P("other")), -1);
  EXPECT_EQ(ProgressOf(P("other")), std::nullopt);
}

TEST_F(RocksDbCheckpointStoreTest, ForgetRemovesOnlyThatPartition) {
  Open();
  const auto gone = P("t", 0);
  const auto kept = P("t", 1);
  ASSERT_EQ(store_->Commit({Update(gone, {{0, 0, 10}, {20, 10, 10}}, MakeProgress(30, 20)),
                            Update(kept, {{0, 50, 10}}, MakeProgress(10, 60))}),
            Status::Ok());
  ASSERT_EQ(store_->Forget(gone), Status::Ok());

  EXPECT_EQ(ProgressOf(gone), std::nullopt);
  EXPECT_EQ(FloorOf(gone), -1);
  EXPECT_THAT(AllRuns(gone), IsEmpty());
  EXPECT_EQ(Translate(gone, 5), Ahead());
  EXPECT_EQ(ProgressOf(kept), MakeProgress(10, 60));
  EXPECT_THAT(AllRuns(kept), ElementsAre(OffsetRun{0, 50, 10}));
  const auto all = Must(store_->AllProgress());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, kept);

  // A re-created topic starts over: new floor, no stale runs.
  ASSERT_EQ(store_->Commit({Update(gone, {{5, 500, 1}}, MakeProgress(6, 501))}), Status::Ok());
  EXPECT_THAT(AllRuns(gone), ElementsAre(OffsetRun{5, 500, 1}));
  EXPECT_EQ(FloorOf(gone), 5);
  ASSERT_EQ(store_->Forget(P("never-seen")), Status::Ok());
}

TEST_F(RocksDbCheckpointStoreTest, APreparedUpdateStaysUntilTheCommitOfItsPartition) {
  Open();
  const auto p = P("t", 0);
  const auto q = P("t", 1);
  ASSERT_EQ(store_->Commit({Update(p, {{0, 0, 10}}, MakeProgress(10, 10))}), Status::Ok());
  EXPECT_EQ(Must(store_->Prepared(p)), std::nullopt);

  const auto next_p = Update(p, {{10, 10, 5}, {20, 15, 2}}, MakeProgress(22, 17, "id", 7));
  const auto next_q = Update(q, {}, MakeProgress(3, 0));
  ASSERT_EQ(store_->Prepare({next_p, next_q}), Status::Ok());
  // Preparing changes nothing that is committed.
  EXPECT_EQ(ProgressOf(p), MakeProgress(10, 10));
  EXPECT_EQ(ProgressOf(q), std::nullopt);
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 0, 10}));
  Open();
  EXPECT_EQ(Must(store_->Prepared(p)), next_p);
  EXPECT_EQ(Must(store_->Prepared(q)), next_q);

  // A later prepare replaces it; the commit of a partition drops its own only.
  const auto later_p = Update(p, {{10, 10, 6}}, MakeProgress(16, 16));
  ASSERT_EQ(store_->Prepare({later_p}), Status::Ok());
  EXPECT_EQ(Must(store_->Prepared(p)), later_p);
  ASSERT_EQ(store_->Commit({later_p}), Status::Ok());
  EXPECT_EQ(Must(store_->Prepared(p)), std::nullopt);
  EXPECT_EQ(Must(store_->Prepared(q)), next_q);
  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{0, 0, 16}));
  ASSERT_EQ(store_->DropPrepared({q, P("never-seen")}), Status::Ok());
  EXPECT_EQ(Must(store_->Prepared(q)), std::nullopt);
}

TEST_F(RocksDbCheckpointStoreTest, TruncateFromAndForgetDropAPreparedUpdate) {
  Open();
  const auto p = P("t", 0);
  const auto q = P("t", 1);
  ASSERT_EQ(store_->Commit({Update(p, {{0, 0, 10}}, MakeProgress(10, 10)),
                            Update(q, {{0, 0, 10}}, MakeProgress(10, 10))}),
            Status::Ok());
  ASSERT_EQ(store_->Prepare({Update(p, {{10, 10, 1}}, MakeProgress(11, 11)),
                             Update(q, {{10, 10, 1}}, MakeProgress(11, 11))}),
            Status::Ok());
  ASSERT_EQ(store_->TruncateFrom(p, 5, MakeProgress(5, 5)), Status::Ok());
  ASSERT_EQ(store_->Forget(q), Status::Ok());
  EXPECT_EQ(Must(store_->Prepared(p)), std::nullopt);
  EXPECT_EQ(Must(store_->Prepared(q)), std::nullopt);
}

TEST_F(RocksDbCheckpointStoreTest, APreparedUpdateSurvivesTheDeathOfTheProcess) {
  const auto update = Update(P("t", 3), {{4, 40, 2}}, MakeProgress(6, 42));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The store is neither closed nor flushed: the process ends as if killed.
    auto store = OpenRocksDbCheckpointStore(dir_);
    const bool ok = store.ok() && store.value()->Prepare({update}).ok();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Open();
  EXPECT_EQ(Must(store_->Prepared(P("t", 3))), update);
}

TEST_F(RocksDbCheckpointStoreTest, PrepareRefusesWhatCommitWouldRefuse) {
  Open();
  EXPECT_EQ(store_->Prepare({Update(P(""), {}, MakeProgress(1, 1))}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Prepare({Update(P("t"), {{0, 0, 0}}, MakeProgress(1, 1))}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Must(store_->Prepared(P("t"))), std::nullopt);
}

TEST_F(RocksDbCheckpointStoreTest, RejectedCommitsWriteNothing) {
  Open();
  const auto p = P("t");
  const auto other = P("other");
  ASSERT_EQ(store_->Commit({Update(p, {{10, 100, 10}}, MakeProgress(20, 110))}), Status::Ok());

  const std::vector<std::vector<OffsetRun>> bad_runs = {
      {{15, 200, 5}},                    // overlaps the stored run upstream
      {{5, 200, 5}},                     // goes backwards upstream
      {{20, 105, 5}},                    // goes backwards downstream
      {{20, 110, 0}},                    // empty
      {{20, 110, -3}},                   // negative length
      {{30, 120, 5}, {25, 130, 2}},      // out of order within the update
      {{30, 120, 5}, {33, 130, 2}},      // overlapping within the update
      {{-1, 120, 5}},                    // negative offset
      {{20, kEverything - 1, 5}},        // ends past the largest offset
  };
  for (const auto& runs : bad_runs) {
    // The valid update to another partition in the same commit must not be written either.
    const Status s = store_->Commit({Update(other, {{0, 0, 1}}, MakeProgress(1, 1)),
                                     Update(p, runs, MakeProgress(100, 1000))});
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  }
  // A progress below the end of the runs.
  Status s = store_->Commit({Update(p, {{20, 110, 5}}, MakeProgress(24, 115))});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("t-0"));
  s = store_->Commit({Update(P(""), {}, MakeProgress(1, 1))});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();

  EXPECT_THAT(AllRuns(p), ElementsAre(OffsetRun{10, 100, 10}));
  EXPECT_EQ(ProgressOf(p), MakeProgress(20, 110));
  EXPECT_EQ(ProgressOf(other), std::nullopt);
  EXPECT_EQ(FloorOf(other), -1);
  EXPECT_THAT(AllRuns(other), IsEmpty());
  EXPECT_EQ(Must(store_->AllProgress()).size(), 1u);
}

TEST_F(RocksDbCheckpointStoreTest, TopicsThatArePrefixesOfEachOtherStayApart) {
  Open();
  const std::vector<std::string> topics = {"a", "ab", std::string("a\0b", 3),
                                           std::string("a\0", 2), "b", std::string(300, 'a')};
  const std::vector<std::int32_t> partitions = {0, 1, 256, 65536};
  std::vector<PartitionUpdate> updates;
  std::int64_t n = 0;
  for (const auto& topic : topics) {
    for (const auto partition : partitions) {
      ++n;
      updates.push_back(Update(P(topic, partition), {{n, 1000 * n, n}, {3 * n, 2000 * n, 1}},
                               MakeProgress(3 * n + 1, 2000 * n + 1, topic)));
    }
  }
  ASSERT_EQ(store_->Commit(updates), Status::Ok());
  ASSERT_EQ(store_->Forget(P("a", 0)), Status::Ok());

  n = 0;
  for (const auto& topic : topics) {
    for (const auto partition : partitions) {
      ++n;
      const auto p = P(topic, partition);
      SCOPED_TRACE(::testing::PrintToString(topic) + "-" + std::to_string(partition));
      if (topic == "a" && partition == 0) {
        EXPECT_THAT(AllRuns(p), IsEmpty());
        EXPECT_EQ(ProgressOf(p), std::nullopt);
        continue;
      }
      EXPECT_THAT(AllRuns(p),
                  ElementsAre(OffsetRun{n, 1000 * n, n}, OffsetRun{3 * n, 2000 * n, 1}));
      EXPECT_EQ(ProgressOf(p), MakeProgress(3 * n + 1, 2000 * n + 1, topic));
      EXPECT_EQ(FloorOf(p), n);
      EXPECT_EQ(Translate(p, 2 * n), Exact(2000 * n));
    }
  }

  const auto all = Must(store_->AllProgress());
  ASSERT_EQ(all.size(), topics.size() * partitions.size() - 1);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].first, all[i].first);
  EXPECT_EQ(all.front().first, P("a", 1));
  EXPECT_EQ(all.back().first, P("b", 65536));
}

TEST_F(RocksDbCheckpointStoreTest, OpeningADirectoryWithOtherFilesFailsAndKeepsThem) {
  fs::create_directories(dir_);
  { std::ofstream(fs::path(dir_) / "notes.txt") << "keep me"; }

  auto store = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  EXPECT_EQ(Listing(dir_), std::set<std::string>{"notes.txt"});
  EXPECT_EQ(ReadFile(fs::path(dir_) / "notes.txt"), "keep me");
}

TEST_F(RocksDbCheckpointStoreTest, OpeningAFileFails) {
  fs::create_directories(fs::path(dir_).parent_path());
  { std::ofstream(dir_) << "a file"; }
  auto store = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  EXPECT_EQ(ReadFile(dir_), "a file");
}

TEST_F(RocksDbCheckpointStoreTest, CreatesMissingParentDirectories) {
  const std::string parent = dir_;
  dir_ = (fs::path(parent) / "x" / "y" / "state").string();
  Open();
  ASSERT_EQ(store_->Commit({Update(P("t"), {}, MakeProgress(1, 1))}), Status::Ok());
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "CURRENT"));
  store_.reset();
  dir_ = parent;  // TearDown removes the whole tree
}

TEST_F(RocksDbCheckpointStoreTest, OpeningAnotherRocksDbDatabaseFails) {
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "hello", "world").ok());
  }
  auto store = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));

  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "hello", &value).ok());
  EXPECT_EQ(value, "world");
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "Mformat", &value).IsNotFound());
}

TEST_F(RocksDbCheckpointStoreTest, OpeningAStoreOfAnotherFormatFails) {
  Open();
  store_.reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Mformat", "tern-checkpoint-99").ok());
  }
  auto store = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnsupported);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  EXPECT_THAT(store.status().message(), HasSubstr("tern-checkpoint-99"));
}

TEST_F(RocksDbCheckpointStoreTest, AnEmptyDatabaseWithoutMarkerBecomesAStore) {
  {
    // What a crash between creating the database and writing the marker leaves.
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_, &raw).ok());
    delete raw;
  }
  Open();
  ASSERT_EQ(store_->Commit({Update(P("t"), {{0, 0, 1}}, MakeProgress(1, 1))}), Status::Ok());
  Open();
  EXPECT_THAT(AllRuns(P("t")), ElementsAre(OffsetRun{0, 0, 1}));
}

TEST_F(RocksDbCheckpointStoreTest, OpeningACorruptStoreFailsAndDeletesNothing) {
  Open();
  ASSERT_EQ(store_->Commit({Update(P("t"), {{0, 0, 1}}, MakeProgress(1, 1))}), Status::Ok());
  store_.reset();
  { std::ofstream(fs::path(dir_) / "CURRENT", std::ios::trunc) << "garbage"; }
  const auto before = Listing(dir_);

  auto store = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  // RocksDB may start a new info LOG; every file that was there is still there.
  const auto after = Listing(dir_);
  EXPECT_TRUE(std::includes(after.begin(), after.end(), before.begin(), before.end()))
      << ::testing::PrintToString(after);
  EXPECT_EQ(ReadFile(fs::path(dir_) / "CURRENT"), "garbage");
}

TEST_F(RocksDbCheckpointStoreTest, ASecondOpenOfTheSameDirectoryFails) {
  Open();
  auto second = OpenRocksDbCheckpointStore(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(dir_));
  ASSERT_EQ(store_->Commit({Update(P("t"), {}, MakeProgress(3, 3))}), Status::Ok());
  EXPECT_EQ(ProgressOf(P("t")), MakeProgress(3, 3));
}

// The layout is the store's compatibility contract (README.md): a change must be deliberate.
TEST_F(RocksDbCheckpointStoreTest, OnDiskLayoutIsAsDocumented) {
  Open();
  ASSERT_EQ(store_->Commit({Update(P("ab", 2), {{100, 7, 3}}, MakeProgress(103, 10, "id", 5))}),
            Status::Ok());
  ASSERT_EQ(store_->Prepare({Update(P("ab", 2), {{103, 10, 1}}, MakeProgress(104, 11, "", 6))}),
            Status::Ok());
  store_.reset();

  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto get = [&](const std::string& key) {
    std::string value;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), key, &value).ok()) << ::testing::PrintToString(key);
    return value;
  };
  auto be64 = [](std::int64_t v) {
    std::string s;
    StoreBigEndian<std::int64_t>(s, v);
    return s;
  };
  const std::string partition("\0\0\0\x02" "ab" "\0\0\0\x02", 10);

  EXPECT_EQ(get("Mformat"), "tern-checkpoint-1");
  EXPECT_EQ(get("R" + partition + be64(100)), be64(7) + be64(3));
  EXPECT_EQ(get("F" + partition), be64(100));
  EXPECT_EQ(get("P" + partition),
            std::string("\x01", 1) + be64(103) + be64(10) + be64(5) + std::string("\0\0\0\x02", 4) +
                "id");
  EXPECT_EQ(get("X" + partition),
            std::string("\x01\0\0\0\x1d\x01", 6) + be64(104) + be64(11) + be64(6) +
                std::string("\0\0\0\0\0\0\0\x01", 8) + be64(103) + be64(10) + be64(1));
}

TEST_F(RocksDbCheckpointStoreTest, ConcurrentWritersOnDifferentPartitions) {
  Open();
  constexpr int kWriters = 4;
  constexpr int kCommits = 40;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const auto p = P("t", w);
      for (std::int64_t k = 0; k < kCommits; ++k) {
        // Source offsets 2k are copied to target offsets k; the odd ones are gaps.
        const Status s =
            store_->Commit({Update(p, {{2 * k, k, 1}}, MakeProgress(2 * k + 1, k + 1))});
        if (!s.ok()) ++failures;
      }
    });
  }
  // A reader translating meanwhile sees either nothing yet or a consistent map.
  std::thread reader([&] {
    while (!done) {
      auto t = store_->Translate(P("t", 0), 2);
      if (!t.ok() || !(t.value() == Ahead() || t.value() == Exact(1))) ++failures;
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);

  for (int w = 0; w < kWriters; ++w) {
    const auto p = P("t", w);
    const auto runs = AllRuns(p);
    ASSERT_EQ(runs.size(), std::size_t{kCommits});
    for (std::int64_t k = 0; k < kCommits; ++k) EXPECT_EQ(runs[k], (OffsetRun{2 * k, k, 1}));
    EXPECT_EQ(ProgressOf(p), MakeProgress(2 * kCommits - 1, kCommits));
    EXPECT_EQ(Translate(p, 3), Exact(2));
    EXPECT_EQ(FloorOf(p), 0);
  }
  EXPECT_EQ(Must(store_->AllProgress()).size(), std::size_t{kWriters});
}

}  // namespace
}  // namespace tern
