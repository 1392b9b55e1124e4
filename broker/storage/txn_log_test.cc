// PartitionLog with transactions: transactional batches open a producer's transaction, markers
// close it, the last stable offset and the aborted list follow, and both survive a crash, a
// clean restart and compaction.
#include <gtest/gtest.h>

#include "broker/storage/partition_log.h"
#include "broker/storage/test_util.h"
#include "kafka/txn_marker.h"

namespace tern::broker::storage {
namespace {

using testing_util::FakeClock;
using testing_util::OpenOrDie;
using testing_util::TempDir;

std::string TxnBatch(std::int64_t producer, std::int32_t sequence, int records,
                     std::int16_t epoch = 0, const std::string& key_prefix = "k") {
  std::vector<kafka::RecordToBuild> list;
  for (int i = 0; i < records; ++i) {
    list.push_back({.key = key_prefix + std::to_string(sequence + i),
                    .value = "v" + std::to_string(producer),
                    .headers = {},
                    .timestamp = 1'700'000'000'000 + sequence + i});
  }
  kafka::RecordBatchOptions options;
  options.attributes = 0x10;
  options.producer_id = producer;
  options.producer_epoch = epoch;
  options.base_sequence = sequence;
  return kafka::BuildRecordBatch(list, options);
}

class TxnLogTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/topic-0"; }
  std::unique_ptr<PartitionLog> Open() { return OpenOrDie(Dir(), config_, clock_); }
  AppendResult Append(PartitionLog& log, const std::string& batch) {
    Result<AppendResult> r = log.Append(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : AppendResult{};
  }
  AppendResult Marker(PartitionLog& log, std::int64_t producer, bool commit,
                      std::int16_t epoch = 0) {
    Result<AppendResult> r = log.AppendMarker(producer, epoch, 0, commit);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : AppendResult{};
  }

  TempDir tmp_;
  FakeClock clock_;
  LogConfig config_;
};

TEST_F(TxnLogTest, OpenTransactionHoldsTheLastStableOffsetUntilItsMarker) {
  auto log = Open();
  EXPECT_EQ(log->LastStableOffset(0), 0);
  Append(*log, TxnBatch(7, 0, 3));      // 0..2
  Append(*log, TxnBatch(8, 0, 2));      // 3..4
  Append(*log, TxnBatch(7, 3, 2));      // 5..6
  EXPECT_EQ(log->LastStableOffset(log->log_end_offset()), 0);
  EXPECT_EQ(Marker(*log, 7, true).first_offset, 7);
  // The marker is not below this high watermark yet: producer 7's records are not stable.
  EXPECT_EQ(log->LastStableOffset(7), 0);
  EXPECT_EQ(log->LastStableOffset(8), 3);  // producer 8 is still open
  Marker(*log, 8, false);                   // at 8
  EXPECT_EQ(log->LastStableOffset(9), 9);
  const auto aborted = log->AbortedTransactions(0, 9);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0], (txn::AbortedTxn{8, 3, 8}));
  EXPECT_TRUE(log->AbortedTransactions(9, 20).empty());
  EXPECT_TRUE(log->AbortedTransactions(0, 3).empty());
}

TEST_F(TxnLogTest, NonTransactionalBatchInsideAnOpenTransactionIsRefused) {
  auto log = Open();
  Append(*log, TxnBatch(7, 0, 2));
  kafka::RecordBatchOptions options;
  options.producer_id = 7;
  options.producer_epoch = 0;
  options.base_sequence = 2;
  const AppendResult r =
      Append(*log, kafka::BuildRecordBatch({{.key = "x", .value = "y", .headers = {}, .timestamp = 0}}, options));
  EXPECT_EQ(r.error, kafka::ErrorCode::kInvalidTxnState);
  EXPECT_EQ(log->log_end_offset(), 2);
}

TEST_F(TxnLogTest, MarkerWithAnOlderEpochIsRefusedAndABumpedOneFencesTheProducer) {
  auto log = Open();
  Append(*log, TxnBatch(7, 0, 2, /*epoch=*/3));
  EXPECT_EQ(Marker(*log, 7, false, /*epoch=*/2).error, kafka::ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(Marker(*log, 7, false, /*epoch=*/4).error, kafka::ErrorCode::kNone);
  EXPECT_EQ(Append(*log, TxnBatch(7, 2, 1, /*epoch=*/3)).error,
            kafka::ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(Append(*log, TxnBatch(7, 0, 1, /*epoch=*/4)).error, kafka::ErrorCode::kNone);
}

TEST_F(TxnLogTest, CrashRebuildsOpenAndAbortedTransactionsFromTheLog) {
  auto log = Open();
  Append(*log, TxnBatch(7, 0, 3));  // 0..2, aborted at 3
  Marker(*log, 7, false);
  Append(*log, TxnBatch(8, 0, 2));  // 4..5, committed at 6
  Marker(*log, 8, true);
  Append(*log, TxnBatch(9, 0, 2));  // 7..8, open
  ASSERT_TRUE(log->Sync().ok());
  log.reset();  // no Close: recovery replays every batch
  log = Open();
  EXPECT_EQ(log->LastStableOffset(log->log_end_offset()), 7);
  const auto aborted = log->AbortedTransactions(0, 100);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0], (txn::AbortedTxn{7, 0, 3}));
  Marker(*log, 9, true);
  EXPECT_EQ(log->LastStableOffset(log->log_end_offset()), log->log_end_offset());
}

TEST_F(TxnLogTest, CleanCloseKeepsTransactionStateInTheSnapshot) {
  auto log = Open();
  Append(*log, TxnBatch(7, 0, 3));
  Marker(*log, 7, false);
  Append(*log, TxnBatch(9, 0, 2));
  const txn::ProducerStateTable before = log->producer_state();
  ASSERT_TRUE(log->Close().ok());
  log = Open();
  EXPECT_EQ(log->producer_state(), before);
  EXPECT_EQ(log->LastStableOffset(log->log_end_offset()), 4);
}

TEST_F(TxnLogTest, CompactionDropsAbortedRecordsAndStopsAtAnOpenTransaction) {
  config_.cleanup_policy = CleanupPolicy::kCompact;
  config_.segment_bytes = 1;  // every append rolls
  config_.min_compaction_lag_ms = 0;
  auto log = Open();
  Append(*log, TxnBatch(7, 0, 1, 0, "same"));  // 0: committed value of key same0
  Marker(*log, 7, true);                         // 1
  Append(*log, TxnBatch(8, 0, 1, 0, "same"));  // 2: aborted value of the same key
  Marker(*log, 8, false);                        // 3
  Append(*log, TxnBatch(9, 0, 1, 0, "open"));  // 4: open transaction
  Append(*log, TxnBatch(10, 0, 1, 0, "late")); // 5: active segment
  ASSERT_TRUE(log->Compact(clock_.now()).ok());
  // The committed record survives (the aborted one supersedes nothing) and the aborted one is
  // gone; nothing from the open transaction on was touched.
  auto read = log->Read(0, 1 << 20, true, log->log_end_offset());
  ASSERT_TRUE(read.ok());
  std::int64_t bytes_before_open = 0;
  auto all = log->Read(0, 1 << 20, true, 4);
  ASSERT_TRUE(all.ok());
  bytes_before_open = all.value().bytes;
  const std::int64_t committed = static_cast<std::int64_t>(TxnBatch(7, 0, 1, 0, "same").size());
  const std::int64_t marker = static_cast<std::int64_t>(
      kafka::BuildTxnMarkerBatch(kafka::TxnMarker{7, 0, 0, true, 0}).size());
  EXPECT_EQ(bytes_before_open, committed + 2 * marker);
  EXPECT_EQ(log->LastStableOffset(log->log_end_offset()), 4);
}

}  // namespace
}  // namespace tern::broker::storage
