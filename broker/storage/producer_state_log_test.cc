// PartitionLog with idempotent producers: the check inside Append, snapshots at roll and close,
// rebuilding the state on Open, and what retention and damage do to it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "broker/storage/partition_log.h"
#include "broker/storage/test_util.h"

namespace tern::broker::storage {
namespace {

using testing_util::FakeClock;
using testing_util::OpenOrDie;
using testing_util::TempDir;

constexpr std::int64_t kProducer = 42;

std::string IdempotentBatch(std::int32_t sequence, int records, std::int16_t epoch = 0,
                            std::int64_t producer = kProducer) {
  std::vector<kafka::RecordToBuild> list;
  for (int i = 0; i < records; ++i) {
    list.push_back({.key = "k" + std::to_string(sequence + i),
                    .value = std::string(100, 'v'),
                    .headers = {},
                    .timestamp = 1'700'000'000'000 + sequence + i});
  }
  kafka::RecordBatchOptions options;
  options.producer_id = producer;
  options.producer_epoch = epoch;
  options.base_sequence = sequence;
  return kafka::BuildRecordBatch(list, options);
}

class ProducerStateLogTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/topic-0"; }
  std::unique_ptr<PartitionLog> Open() { return OpenOrDie(Dir(), config_, clock_); }
  AppendResult Append(PartitionLog& log, const std::string& batch) {
    Result<AppendResult> r = log.Append(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : AppendResult{};
  }
  // Appends batches of 5 records at sequences from..to-1 (step 5); returns the log end.
  std::int64_t AppendRun(PartitionLog& log, std::int32_t from, std::int32_t to) {
    for (std::int32_t s = from; s < to; s += 5) {
      const AppendResult r = Append(log, IdempotentBatch(s, 5));
      EXPECT_FALSE(r.duplicate);
      EXPECT_EQ(r.error, kafka::ErrorCode::kNone) << r.error_message;
    }
    return log.log_end_offset();
  }
  std::vector<std::string> Snapshots() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(Dir())) {
      if (e.path().extension() == ".snapshot") out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  void Crash(std::unique_ptr<PartitionLog> log) {
    ASSERT_TRUE(log->Sync().ok());
    log.reset();  // no Close: no clean-shutdown marker, no snapshot at the end
  }

  TempDir tmp_;
  FakeClock clock_;
  LogConfig config_;
};

TEST_F(ProducerStateLogTest, RetryGetsTheOriginalOffsetsAndIsNotWrittenAgain) {
  auto log = Open();
  Append(*log, IdempotentBatch(0, 3));
  const std::string batch = IdempotentBatch(3, 4);
  const AppendResult first = Append(*log, batch);
  const std::int64_t end = log->log_end_offset();
  const std::int64_t size = log->size_bytes();
  const AppendResult retry = Append(*log, batch);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.first_offset, first.first_offset);
  EXPECT_EQ(retry.last_offset, first.last_offset);
  EXPECT_EQ(retry.max_timestamp, first.max_timestamp);
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_EQ(log->size_bytes(), size);
}

TEST_F(ProducerStateLogTest, RefusedBatchesAreNotWritten) {
  auto log = Open();
  Append(*log, IdempotentBatch(0, 3, /*epoch=*/1));
  const AppendResult gap = Append(*log, IdempotentBatch(5, 1, 1));
  EXPECT_EQ(gap.error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  const AppendResult stale = Append(*log, IdempotentBatch(3, 1, 0));
  EXPECT_EQ(stale.error, kafka::ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(log->log_end_offset(), 3);
}

TEST_F(ProducerStateLogTest, CleanCloseSnapshotsAtTheEndAndReopenNeedsNoReplay) {
  auto log = Open();
  const std::int64_t end = AppendRun(*log, 0, 50);
  const txn::ProducerStateTable before = log->producer_state();
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(Snapshots(), std::vector<std::string>{"00000000000000000050.snapshot"});
  log = Open();
  EXPECT_EQ(log->producer_state(), before);
  EXPECT_TRUE(Append(*log, IdempotentBatch(45, 5)).duplicate);
  EXPECT_EQ(Append(*log, IdempotentBatch(50, 5)).first_offset, end);
}

TEST_F(ProducerStateLogTest, CrashRebuildsTheStateFromTheLog) {
  auto log = Open();
  AppendRun(*log, 0, 40);
  Crash(std::move(log));
  EXPECT_TRUE(Snapshots().empty());
  log = Open();
  const txn::ProducerStateTable state = log->producer_state();  // a copy: keep it alive
  const txn::ProducerEntry* entry = state.Find(kProducer);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->last_sequence(), 39);
  for (std::int32_t s = 15; s < 40; s += 5) {
    const AppendResult retry = Append(*log, IdempotentBatch(s, 5));
    EXPECT_TRUE(retry.duplicate) << "sequence " << s;
    EXPECT_EQ(retry.first_offset, s);
  }
  EXPECT_EQ(Append(*log, IdempotentBatch(41, 5)).error,
            kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_FALSE(Append(*log, IdempotentBatch(40, 5)).duplicate);
}

TEST_F(ProducerStateLogTest, RollSnapshotsAndRecoveryReplaysOnlyTheTail) {
  config_.segment_bytes = 2000;
  auto log = Open();
  AppendRun(*log, 0, 100);
  ASSERT_GT(log->segment_count(), 3u);
  // The newest two roll snapshots remain, the newest at the active segment's base.
  const std::vector<std::string> snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), ProducerSnapshots::kKept);
  const txn::ProducerStateTable before = log->producer_state();
  Crash(std::move(log));
  log = Open();
  EXPECT_EQ(log->producer_state().Find(kProducer)->batches,
            before.Find(kProducer)->batches);
  EXPECT_TRUE(Append(*log, IdempotentBatch(95, 5)).duplicate);
}

TEST_F(ProducerStateLogTest, CorruptSnapshotIsIgnoredAndTheLogReplayed) {
  config_.segment_bytes = 2000;
  auto log = Open();
  AppendRun(*log, 0, 60);
  const txn::ProducerStateTable before = log->producer_state();
  ASSERT_TRUE(log->Close().ok());
  for (const std::string& name : Snapshots()) {
    std::fstream f(Dir() + "/" + name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  log = Open();
  EXPECT_TRUE(Snapshots().empty());
  EXPECT_EQ(log->producer_state().Find(kProducer)->batches, before.Find(kProducer)->batches);
  EXPECT_TRUE(Append(*log, IdempotentBatch(55, 5)).duplicate);
}

TEST_F(ProducerStateLogTest, TruncatedSnapshotFallsBackToTheOlderOne) {
  config_.segment_bytes = 2000;
  auto log = Open();
  AppendRun(*log, 0, 60);
  Crash(std::move(log));
  const std::vector<std::string> snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 2u);
  std::filesystem::resize_file(Dir() + "/" + snapshots.back(), 7);
  log = Open();
  EXPECT_EQ(Snapshots(), std::vector<std::string>{snapshots.front()});
  EXPECT_EQ(log->producer_state().Find(kProducer)->last_sequence(), 59);
}

TEST_F(ProducerStateLogTest, SnapshotPastTheLogEndIsDeleted) {
  auto log = Open();
  AppendRun(*log, 0, 20);
  ASSERT_TRUE(log->Close().ok());
  // As if the snapshot had survived a power cut that the tail of the log did not.
  std::filesystem::rename(Dir() + "/00000000000000000020.snapshot",
                          Dir() + "/00000000000000000030.snapshot");
  log = Open();
  EXPECT_TRUE(Snapshots().empty());
  EXPECT_EQ(log->producer_state().Find(kProducer)->last_sequence(), 19);
}

TEST_F(ProducerStateLogTest, RetentionKeepsProducersAndDropsUnusableSnapshots) {
  config_.segment_bytes = 2000;
  config_.retention_bytes = 1;
  config_.file_delete_delay_ms = 0;
  auto log = Open();
  AppendRun(*log, 0, 60);
  Append(*log, IdempotentBatch(0, 1, 0, /*producer=*/7));
  AppendRun(*log, 60, 100);
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());
  EXPECT_EQ(log->segment_count(), 1u);
  // Producer 7's only batch is gone with its segment; it is still known.
  ASSERT_NE(log->producer_state().Find(7), nullptr);
  for (const std::string& name : Snapshots()) {
    EXPECT_GE(std::stoll(name), log->log_start_offset()) << name;
  }
  EXPECT_EQ(Append(*log, IdempotentBatch(1, 1, 0, 7)).error, kafka::ErrorCode::kNone);
  ASSERT_TRUE(log->Close().ok());
  log = Open();
  EXPECT_NE(log->producer_state().Find(7), nullptr);
}

TEST_F(ProducerStateLogTest, ProducersOfDeletedSegmentsMayBeForgottenAfterACrash) {
  config_.segment_bytes = 2000;
  auto log = Open();
  Append(*log, IdempotentBatch(0, 1, 0, /*producer=*/7));
  AppendRun(*log, 0, 60);
  ASSERT_TRUE(log->DeleteRecordsBefore(log->log_end_offset()).ok());
  for (const std::string& name : Snapshots()) std::filesystem::remove(Dir() + "/" + name);
  Crash(std::move(log));
  log = Open();
  EXPECT_EQ(log->producer_state().Find(7), nullptr);
  // An unknown producer may continue at any sequence.
  EXPECT_EQ(Append(*log, IdempotentBatch(1, 1, 0, 7)).error, kafka::ErrorCode::kNone);
}

TEST_F(ProducerStateLogTest, IdleProducersExpire) {
  auto log = Open();
  Append(*log, IdempotentBatch(0, 1, 0, 1));
  clock_.Advance(1000);
  Append(*log, IdempotentBatch(0, 1, 0, 2));
  EXPECT_EQ(log->ExpireProducers(clock_.now(), 1000), 1u);
  EXPECT_EQ(log->producer_state().Find(1), nullptr);
  EXPECT_NE(log->producer_state().Find(2), nullptr);
}

TEST_F(ProducerStateLogTest, ConcurrentRetriesAreWrittenOnce) {
  auto log = Open();
  constexpr int kThreads = 4;
  constexpr std::int32_t kBatches = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Every thread sends the same batches, as retries on other connections would. A batch
      // more than the remembered five behind what others wrote is out of order (as in Kafka);
      // the thread then catches up.
      for (std::int32_t b = 0; b < kBatches;) {
        const auto written = static_cast<std::int32_t>(log->log_end_offset() / 2);
        b = std::max(b, written - 4);
        Result<AppendResult> r = log->Append(IdempotentBatch(b * 2, 2));
        ASSERT_TRUE(r.ok());
        if (r.value().error == kafka::ErrorCode::kOutOfOrderSequenceNumber) {
          ASSERT_LT(b, log->log_end_offset() / 2 - 5) << r.value().error_message;
          continue;
        }
        ASSERT_EQ(r.value().error, kafka::ErrorCode::kNone) << r.value().error_message;
        EXPECT_EQ(r.value().first_offset, b * 2);
        ++b;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(log->log_end_offset(), kBatches * 2);
}

}  // namespace
}  // namespace tern::broker::storage
