#include "broker/storage/partition_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "broker/storage/test_util.h"

namespace tern::broker::storage {
namespace {

using testing_util::FakeClock;
using testing_util::Headers;
using testing_util::MakeBatch;
using testing_util::OpenOrDie;
using testing_util::ReadRanges;
using testing_util::TempDir;
using testing_util::WithBaseOffset;

constexpr std::int64_t kNoBound = std::numeric_limits<std::int64_t>::max();

class PartitionLogTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/topic-0"; }
  std::unique_ptr<PartitionLog> Open() { return OpenOrDie(Dir(), config_, clock_); }
  AppendResult AppendOrDie(PartitionLog& log, const std::string& batches) {
    Result<AppendResult> r = log.Append(batches);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : AppendResult{};
  }
  std::string ReadAll(PartitionLog& log, std::int64_t from = 0) {
    Result<ReadResult> r = log.Read(from, std::numeric_limits<std::int32_t>::max(), true, kNoBound);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? ReadRanges(r.value()) : "";
  }

  TempDir tmp_;
  FakeClock clock_;
  LogConfig config_;
};

TEST_F(PartitionLogTest, EmptyLogStartsAtZero) {
  auto log = Open();
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->size_bytes(), 0);
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000000.log"));
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000000.index"));
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000000.timeindex"));
}

TEST_F(PartitionLogTest, AppendAssignsConsecutiveOffsets) {
  auto log = Open();
  const AppendResult a = AppendOrDie(*log, MakeBatch(3, 1000));
  const AppendResult b = AppendOrDie(*log, MakeBatch(2, 2000));
  EXPECT_EQ(a.first_offset, 0);
  EXPECT_EQ(a.last_offset, 2);
  EXPECT_EQ(a.max_timestamp, 1002);
  EXPECT_EQ(b.first_offset, 3);
  EXPECT_EQ(b.last_offset, 4);
  EXPECT_EQ(log->log_end_offset(), 5);
}

TEST_F(PartitionLogTest, ReadRoundTripIsByteExactWithOffsetsStamped) {
  auto log = Open();
  const std::string a = MakeBatch(3, 1000);
  const std::string b = MakeBatch(1, 2000);
  AppendOrDie(*log, a);
  AppendOrDie(*log, b);
  EXPECT_EQ(ReadAll(*log), WithBaseOffset(a, 0) + WithBaseOffset(b, 3));
  EXPECT_EQ(log->size_bytes(), static_cast<std::int64_t>(a.size() + b.size()));
}

TEST_F(PartitionLogTest, SeveralBatchesInOneAppendGetSuccessiveOffsets) {
  auto log = Open();
  const std::string a = MakeBatch(2, 1000);
  const std::string b = MakeBatch(4, 5000);
  const AppendResult r = AppendOrDie(*log, a + b);
  EXPECT_EQ(r.first_offset, 0);
  EXPECT_EQ(r.last_offset, 5);
  EXPECT_EQ(r.max_timestamp, 5003);
  const std::vector<kafka::RecordBatchHeader> headers = Headers(ReadAll(*log));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[1].base_offset, 2);
}

TEST_F(PartitionLogTest, OversizedBatchIsRejectedAsTooLarge) {
  config_.max_message_bytes = 200;
  auto log = Open();
  const Result<AppendResult> r = log->Append(MakeBatch(1, 0, 500));
  EXPECT_EQ(r.status().code(), Status::Code::kTooLarge);
  EXPECT_EQ(log->log_end_offset(), 0);
}

TEST_F(PartitionLogTest, ConfigChangeTakesEffectAtNextAppend) {
  auto log = Open();
  const std::string big = MakeBatch(1, 0, 500);
  AppendOrDie(*log, big);
  LogConfig smaller = config_;
  smaller.max_message_bytes = 200;
  log->SetConfig(smaller);
  EXPECT_EQ(log->Append(big).status().code(), Status::Code::kTooLarge);
  EXPECT_EQ(log->config().max_message_bytes, 200);
}

TEST_F(PartitionLogTest, PartialBatchIsRejected) {
  auto log = Open();
  const std::string batch = MakeBatch(2, 0);
  EXPECT_FALSE(log->Append(batch + batch.substr(0, 30)).ok());
  EXPECT_FALSE(log->Append("").ok());
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->size_bytes(), 0);
}

TEST_F(PartitionLogTest, OffsetsContinueAcrossReopen) {
  {
    auto log = Open();
    AppendOrDie(*log, MakeBatch(5, 0));
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), 5);
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1, 0)).first_offset, 5);
}

TEST_F(PartitionLogTest, RollsSegmentBySize) {
  const std::string batch = MakeBatch(1, 0, 100);
  config_.segment_bytes = static_cast<std::int64_t>(batch.size()) * 3;
  auto log = Open();
  for (int i = 0; i < 7; ++i) AppendOrDie(*log, batch);
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000003.log"));
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000006.log"));
  EXPECT_EQ(Headers(ReadAll(*log)).size(), 7u);
}

TEST_F(PartitionLogTest, RollsSegmentByAge) {
  config_.segment_ms = 1000;
  auto log = Open();
  AppendOrDie(*log, MakeBatch(1, 0));
  clock_.Advance(999);
  AppendOrDie(*log, MakeBatch(1, 0));
  EXPECT_EQ(log->segment_count(), 1u);
  clock_.Advance(1);
  AppendOrDie(*log, MakeBatch(1, 0));
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/00000000000000000002.log"));
}

TEST_F(PartitionLogTest, IndexLookupLandsOnBatchHoldingOffsetAmongThousands) {
  config_.index_interval_bytes = 512;
  config_.segment_bytes = 256 * 1024;
  auto log = Open();
  std::mt19937 rng(1);
  for (int i = 0; i < 4000; ++i) {
    AppendOrDie(*log, MakeBatch(1 + static_cast<int>(rng() % 4), i, rng() % 64));
  }
  EXPECT_GT(log->segment_count(), 1u);
  const std::int64_t end = log->log_end_offset();
  for (int i = 0; i < 500; ++i) {
    const std::int64_t offset = static_cast<std::int64_t>(rng() % end);
    Result<ReadResult> r = log->Read(offset, 1, true, kNoBound);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::vector<kafka::RecordBatchHeader> headers = Headers(ReadRanges(r.value()));
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_LE(headers[0].base_offset, offset);
    EXPECT_GE(headers[0].last_offset(), offset);
  }
}

TEST_F(PartitionLogTest, ReadReturnsWholeBatchContainingOffset) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(2, 0));
  const std::string middle = MakeBatch(5, 0);
  AppendOrDie(*log, middle);
  Result<ReadResult> r = log->Read(4, 1'000'000, false, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ReadRanges(r.value()), WithBaseOffset(middle, 2));
  EXPECT_EQ(r.value().next_offset, 7);
}

TEST_F(PartitionLogTest, ReadRespectsMaxBytes) {
  auto log = Open();
  const std::string batch = MakeBatch(1, 0, 100);
  for (int i = 0; i < 5; ++i) AppendOrDie(*log, batch);
  const auto size = static_cast<std::int32_t>(batch.size());
  Result<ReadResult> r = log->Read(0, size * 2 + size / 2, false, kNoBound);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().bytes, size * 2);
  EXPECT_EQ(r.value().next_offset, 2);
}

TEST_F(PartitionLogTest, MinOneBatchReturnsFirstBatchLargerThanMaxBytes) {
  auto log = Open();
  const std::string batch = MakeBatch(1, 0, 100);
  AppendOrDie(*log, batch);
  AppendOrDie(*log, batch);
  Result<ReadResult> with = log->Read(0, 10, true, kNoBound);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with.value().bytes, static_cast<std::int64_t>(batch.size()));
  Result<ReadResult> without = log->Read(0, 10, false, kNoBound);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(without.value().ranges.empty());
  EXPECT_EQ(without.value().next_offset, 0);
}

TEST_F(PartitionLogTest, ReadNeverPassesUpperBound) {
  auto log = Open();
  for (int i = 0; i < 4; ++i) AppendOrDie(*log, MakeBatch(2, 0));  // offsets 0..7
  Result<ReadResult> r = log->Read(0, 1'000'000, true, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Headers(ReadRanges(r.value())).size(), 2u);  // batch 4..5 reaches the bound
  EXPECT_EQ(r.value().next_offset, 4);
  Result<ReadResult> at = log->Read(6, 1'000'000, true, 6);
  ASSERT_TRUE(at.ok());
  EXPECT_TRUE(at.value().ranges.empty());
}

TEST_F(PartitionLogTest, ReadSpansSegments) {
  const std::string batch = MakeBatch(1, 0, 50);
  config_.segment_bytes = static_cast<std::int64_t>(batch.size()) * 2;
  auto log = Open();
  for (int i = 0; i < 5; ++i) AppendOrDie(*log, batch);
  Result<ReadResult> r = log->Read(1, 1'000'000, true, kNoBound);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().ranges.size(), 3u);
  const std::vector<kafka::RecordBatchHeader> headers = Headers(ReadRanges(r.value()));
  ASSERT_EQ(headers.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(headers[i].base_offset, i + 1);
}

TEST_F(PartitionLogTest, ReadOutsideTheLogIsOutOfRange) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(3, 0));
  EXPECT_EQ(log->Read(4, 100, true, kNoBound).status().code(), Status::Code::kOutOfRange);
  EXPECT_EQ(log->Read(-1, 100, true, kNoBound).status().code(), Status::Code::kOutOfRange);
  Result<ReadResult> at_end = log->Read(3, 100, true, kNoBound);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end.value().ranges.empty());
  EXPECT_EQ(at_end.value().next_offset, 3);
}

TEST_F(PartitionLogTest, OffsetForTimestampFindsFirstBatchReachingIt) {
  const std::string probe = MakeBatch(2, 0);
  config_.segment_bytes = static_cast<std::int64_t>(probe.size()) * 3;
  config_.index_interval_bytes = 1;
  auto log = Open();
  for (int i = 0; i < 10; ++i) AppendOrDie(*log, MakeBatch(2, 1000 * (i + 1)));  // max 1001, 2001..
  auto at = [&](std::int64_t ts) {
    Result<std::optional<TimestampOffset>> r = log->OffsetForTimestamp(ts);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::nullopt;
  };
  EXPECT_EQ(at(0), (TimestampOffset{0, 1001}));
  EXPECT_EQ(at(1001), (TimestampOffset{0, 1001}));
  EXPECT_EQ(at(1002), (TimestampOffset{2, 2001}));
  EXPECT_EQ(at(7500), (TimestampOffset{14, 8001}));
  EXPECT_EQ(at(10001), (TimestampOffset{18, 10001}));
  EXPECT_FALSE(at(10002).has_value());
  EXPECT_EQ(log->MaxTimestampOffset(), (TimestampOffset{18, 10001}));
}

TEST_F(PartitionLogTest, MaxTimestampOffsetIsEmptyForEmptyLog) {
  auto log = Open();
  EXPECT_FALSE(log->MaxTimestampOffset().has_value());
  Result<std::optional<TimestampOffset>> r = log->OffsetForTimestamp(0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().has_value());
}

TEST_F(PartitionLogTest, RetentionByBytesDeletesOldestSegments) {
  const std::string batch = MakeBatch(1, clock_.now(), 100);
  const auto size = static_cast<std::int64_t>(batch.size());
  config_.segment_bytes = size;  // one batch per segment
  config_.retention_bytes = size * 3;
  config_.file_delete_delay_ms = 0;
  auto log = Open();
  for (int i = 0; i < 6; ++i) AppendOrDie(*log, batch);
  ASSERT_EQ(log->segment_count(), 6u);
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(log->log_start_offset(), 3);
  EXPECT_EQ(log->size_bytes(), size * 3);
  EXPECT_EQ(log->Read(2, 100, true, kNoBound).status().code(), Status::Code::kOutOfRange);
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());  // removes the renamed files
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/00000000000000000000.log"));
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/00000000000000000000.log.deleted"));
}

TEST_F(PartitionLogTest, RetentionByTimeDeletesExpiredSegmentsButNeverTheActiveOne) {
  config_.segment_bytes = 1;  // every append rolls
  config_.retention_ms = 1000;
  auto log = Open();
  const std::int64_t now = clock_.now();
  AppendOrDie(*log, MakeBatch(1, now - 5000));
  AppendOrDie(*log, MakeBatch(1, now - 2000));
  AppendOrDie(*log, MakeBatch(1, now - 500));
  AppendOrDie(*log, MakeBatch(1, now - 9000));  // active, however old
  ASSERT_TRUE(log->ApplyRetention(now).ok());
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(log->log_start_offset(), 2);
  ASSERT_TRUE(log->ApplyRetention(now + 10'000).ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 3);
}

TEST_F(PartitionLogTest, UnlimitedRetentionKeepsEverything) {
  config_.segment_bytes = 1;
  config_.retention_ms = -1;
  config_.retention_bytes = -1;
  auto log = Open();
  for (int i = 0; i < 3; ++i) AppendOrDie(*log, MakeBatch(1, 0));
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());
  EXPECT_EQ(log->segment_count(), 3u);
}

TEST_F(PartitionLogTest, DeletedSegmentStaysReadableThroughKeepAlive) {
  config_.segment_bytes = 1;
  config_.retention_bytes = 0;
  config_.file_delete_delay_ms = 0;
  auto log = Open();
  const std::string first = MakeBatch(1, 0, 64);
  AppendOrDie(*log, first);
  AppendOrDie(*log, MakeBatch(1, 0));
  Result<ReadResult> r = log->Read(0, 1'000'000, true, 1);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());
  ASSERT_TRUE(log->ApplyRetention(clock_.now()).ok());
  EXPECT_EQ(log->log_start_offset(), 1);
  EXPECT_EQ(ReadRanges(r.value()), WithBaseOffset(first, 0));
}

TEST_F(PartitionLogTest, DeleteRecordsBeforePersistsAcrossReopen) {
  config_.segment_bytes = 1;
  {
    auto log = Open();
    for (int i = 0; i < 4; ++i) AppendOrDie(*log, MakeBatch(2, 0));  // segments 0, 2, 4, 6
    ASSERT_TRUE(log->DeleteRecordsBefore(3).ok());
    EXPECT_EQ(log->log_start_offset(), 3);
    EXPECT_EQ(log->segment_count(), 3u);
    EXPECT_EQ(log->Read(2, 100, true, kNoBound).status().code(), Status::Code::kOutOfRange);
    EXPECT_TRUE(log->DeleteRecordsBefore(1).ok());  // behind the start: no-op
    EXPECT_EQ(log->DeleteRecordsBefore(9).code(), Status::Code::kOutOfRange);
  }
  auto log = Open();
  EXPECT_EQ(log->log_start_offset(), 3);
  Result<ReadResult> r = log->Read(3, 1'000'000, true, kNoBound);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Headers(ReadRanges(r.value())).front().base_offset, 2);  // the batch holding 3
}

TEST_F(PartitionLogTest, DeleteRecordsBeforeLogEndEmptiesTheLog) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(3, 0));
  ASSERT_TRUE(log->DeleteRecordsBefore(3).ok());
  EXPECT_EQ(log->log_start_offset(), 3);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->size_bytes(), 0);
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1, 0)).first_offset, 3);
  log.reset();
  log = Open();
  EXPECT_EQ(log->log_start_offset(), 3);
  EXPECT_EQ(log->log_end_offset(), 4);
}

TEST_F(PartitionLogTest, SyncAdvancesDurableEndOffset) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(3, 0));
  EXPECT_EQ(log->durable_end_offset(), 0);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->durable_end_offset(), 3);
}

TEST_F(PartitionLogTest, UnsyncedBytesCountWhatTheNextSyncWritesOut) {
  auto log = Open();
  EXPECT_EQ(log->unsynced_bytes(), 0);
  const std::string a = MakeBatch(3, 0);
  const std::string b = MakeBatch(2, 0);
  AppendOrDie(*log, a);
  AppendOrDie(*log, b);
  EXPECT_EQ(log->unsynced_bytes(), static_cast<std::int64_t>(a.size() + b.size()));
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->unsynced_bytes(), 0);
  // A Sync with nothing new keeps everything as it was.
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->durable_end_offset(), 5);
  AppendOrDie(*log, a);
  EXPECT_EQ(log->unsynced_bytes(), static_cast<std::int64_t>(a.size()));
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->durable_end_offset(), 8);
  EXPECT_EQ(log->unsynced_bytes(), 0);
}

TEST_F(PartitionLogTest, SyncAfterARollCoversTheRolledSegment) {
  config_.segment_bytes = 200;
  auto log = Open();
  ASSERT_TRUE(log->Sync().ok());
  for (int i = 0; i < 4; ++i) AppendOrDie(*log, MakeBatch(2, 0, 64));
  ASSERT_GT(log->segment_count(), 1u);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->durable_end_offset(), 8);
  EXPECT_EQ(log->unsynced_bytes(), 0);
}

TEST_F(PartitionLogTest, CloseRefusesLaterCalls) {
  auto log = Open();
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->Append(MakeBatch(1, 0)).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(log->Read(0, 10, true, kNoBound).status().code(), Status::Code::kUnavailable);
}

TEST_F(PartitionLogTest, DeleteRemovesThePartitionDirectory) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(1, 0));
  ASSERT_TRUE(log->Delete().ok());
  EXPECT_FALSE(std::filesystem::exists(Dir()));
}

TEST_F(PartitionLogTest, ConcurrentAppendSyncReadAndRetentionDoNotRace) {
  config_.segment_bytes = 4096;
  config_.retention_bytes = 64 * 1024;
  config_.file_delete_delay_ms = 0;
  auto log = Open();
  std::atomic<bool> done = false;
  std::thread flusher([&] {
    while (!done) EXPECT_TRUE(log->Sync().ok());
  });
  std::thread janitor([&] {
    while (!done) EXPECT_TRUE(log->ApplyRetention(clock_.now()).ok());
  });
  std::thread reader([&] {
    while (!done) {
      const std::int64_t start = log->log_start_offset();
      const std::int64_t bound = log->durable_end_offset();
      Result<ReadResult> r = log->Read(start, 8192, true, bound);
      if (!r.ok()) {
        // Retention may move the start between the two calls.
        EXPECT_EQ(r.status().code(), Status::Code::kOutOfRange);
        continue;
      }
      for (const kafka::FileRange& range : r.value().ranges) {
        EXPECT_LE(range.length, 8192 + 4096);
      }
      const std::string bytes = ReadRanges(r.value());
      Headers(bytes);  // every batch whole and intact
    }
  });
  for (int i = 0; i < 3000; ++i) AppendOrDie(*log, MakeBatch(1 + i % 3, i, 40));
  done = true;
  flusher.join();
  janitor.join();
  reader.join();
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->durable_end_offset(), log->log_end_offset());
  EXPECT_EQ(log->log_end_offset(), 6000);
}

}  // namespace
}  // namespace tern::broker::storage
