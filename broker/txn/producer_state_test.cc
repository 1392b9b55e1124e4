#include "broker/txn/producer_state.h"

#include <gtest/gtest.h>

#include <limits>

namespace tern::broker::txn {
namespace {

constexpr std::int32_t kMaxSequence = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kNow = 1'700'000'000'000;

using Outcome = AppendCheck::Outcome;

// The header of a batch of `records` records from `producer` starting at `sequence`, placed at
// `offset`.
kafka::RecordBatchHeader Batch(std::int64_t producer, std::int16_t epoch, std::int32_t sequence,
                               std::int32_t records, std::int64_t offset) {
  kafka::RecordBatchHeader h;
  h.base_offset = offset;
  h.producer_id = producer;
  h.producer_epoch = epoch;
  h.base_sequence = sequence;
  h.last_offset_delta = records - 1;
  h.records_count = records;
  h.max_timestamp = 1000 + offset;
  return h;
}

// A table and the log end, appending through Check and Apply as PartitionLog does.
class Log {
 public:
  AppendCheck Append(std::int64_t producer, std::int16_t epoch, std::int32_t sequence,
                     std::int32_t records) {
    return AppendAll({Batch(producer, epoch, sequence, records, end_)});
  }
  AppendCheck AppendAll(std::vector<kafka::RecordBatchHeader> headers) {
    std::int64_t offset = end_;
    for (auto& h : headers) {
      h.base_offset = offset;
      offset = h.last_offset() + 1;
    }
    AppendCheck check = table.Check(headers);
    if (check.outcome == Outcome::kAppend) {
      table.Apply(check.updated, kNow);
      end_ = offset;
      written.insert(written.end(), headers.begin(), headers.end());
    }
    return check;
  }
  std::int64_t end() const { return end_; }

  ProducerStateTable table;
  std::vector<kafka::RecordBatchHeader> written;

 private:
  std::int64_t end_ = 0;
};

TEST(SequenceTest, IncrementWrapsFromMaxToZero) {
  EXPECT_EQ(IncrementSequence(5, 3), 8);
  EXPECT_EQ(IncrementSequence(kMaxSequence, 0), kMaxSequence);
  EXPECT_EQ(IncrementSequence(kMaxSequence, 1), 0);
  EXPECT_EQ(IncrementSequence(kMaxSequence - 1, 3), 1);
  EXPECT_TRUE(InSequence(kMaxSequence, 0));
  EXPECT_TRUE(InSequence(-1, 0));
  EXPECT_TRUE(InSequence(41, 42));
  EXPECT_FALSE(InSequence(41, 41));
  EXPECT_FALSE(InSequence(41, 43));
  EXPECT_FALSE(InSequence(kMaxSequence, 1));
}

TEST(ProducerStateTest, BatchesWithoutProducerIdPassUnchecked) {
  Log log;
  EXPECT_EQ(log.Append(-1, -1, -1, 3).outcome, Outcome::kAppend);
  EXPECT_EQ(log.Append(-1, -1, -1, 3).outcome, Outcome::kAppend);
  EXPECT_TRUE(log.table.empty());
}

TEST(ProducerStateTest, ConsecutiveSequencesAreAppended) {
  Log log;
  EXPECT_EQ(log.Append(7, 0, 0, 3).outcome, Outcome::kAppend);
  EXPECT_EQ(log.Append(7, 0, 3, 1).outcome, Outcome::kAppend);
  EXPECT_EQ(log.Append(7, 0, 4, 10).outcome, Outcome::kAppend);
  const ProducerEntry* entry = log.table.Find(7);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->epoch, 0);
  EXPECT_EQ(entry->last_sequence(), 13);
  EXPECT_EQ(entry->batches.size(), 3u);
  EXPECT_EQ(entry->last_append_ms, kNow);
}

TEST(ProducerStateTest, UnknownProducerMayStartAtAnySequence) {
  Log log;
  EXPECT_EQ(log.Append(7, 3, 500, 2).outcome, Outcome::kAppend);
  EXPECT_EQ(log.Append(7, 3, 502, 2).outcome, Outcome::kAppend);
}

TEST(ProducerStateTest, SequenceGapIsOutOfOrder) {
  Log log;
  log.Append(7, 0, 0, 3);
  const AppendCheck gap = log.Append(7, 0, 4, 1);
  EXPECT_EQ(gap.outcome, Outcome::kRefused);
  EXPECT_EQ(gap.error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_NE(gap.message.find("sequence 4 after 2"), std::string::npos) << gap.message;
  EXPECT_EQ(log.end(), 3);
}

TEST(ProducerStateTest, OverlapThatIsNoRememberedBatchIsOutOfOrder) {
  Log log;
  log.Append(7, 0, 0, 3);
  log.Append(7, 0, 3, 3);
  EXPECT_EQ(log.Append(7, 0, 1, 3).error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(log.Append(7, 0, 3, 2).error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
}

TEST(ProducerStateTest, EachOfTheLastFiveBatchesIsADuplicateWithItsOriginalOffsets) {
  Log log;
  std::vector<BatchMetadata> originals;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(log.Append(7, 0, i * 2, 2).outcome, Outcome::kAppend);
    originals.push_back(MetadataOf(log.written.back()));
  }
  const std::int64_t end = log.end();
  for (int i = 2; i < 7; ++i) {
    const AppendCheck again = log.Append(7, 0, i * 2, 2);
    EXPECT_EQ(again.outcome, Outcome::kDuplicate) << "batch " << i;
    EXPECT_EQ(again.duplicate, originals[static_cast<std::size_t>(i)]) << "batch " << i;
    EXPECT_EQ(again.duplicate.first_offset, i * 2);
  }
  // The sixth-newest is forgotten: no longer recognised, and out of sequence.
  EXPECT_EQ(log.Append(7, 0, 2, 2).error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(log.end(), end);
}

TEST(ProducerStateTest, DuplicateNeedsTheSameEpochAndRange) {
  Log log;
  log.Append(7, 0, 0, 3);
  EXPECT_EQ(log.Append(7, 0, 0, 3).outcome, Outcome::kDuplicate);
  EXPECT_EQ(log.Append(7, 0, 0, 2).outcome, Outcome::kRefused);
  EXPECT_EQ(log.Append(8, 0, 0, 3).outcome, Outcome::kAppend);  // another producer
}

TEST(ProducerStateTest, SequencesWrapAroundFromMaxToZero) {
  Log log;
  ASSERT_EQ(log.Append(7, 0, kMaxSequence - 4, 3).outcome, Outcome::kAppend);
  // Covers max-1, max, 0, 1.
  ASSERT_EQ(log.Append(7, 0, kMaxSequence - 1, 4).outcome, Outcome::kAppend);
  EXPECT_EQ(log.table.Find(7)->last_sequence(), 1);
  EXPECT_EQ(log.Append(7, 0, kMaxSequence - 1, 4).outcome, Outcome::kDuplicate);
  EXPECT_EQ(log.Append(7, 0, 2, 1).outcome, Outcome::kAppend);
  // Ending exactly at max: the next batch starts at 0.
  Log exact;
  ASSERT_EQ(exact.Append(9, 0, kMaxSequence - 2, 3).outcome, Outcome::kAppend);
  EXPECT_EQ(exact.Append(9, 0, 1, 1).error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(exact.Append(9, 0, 0, 1).outcome, Outcome::kAppend);
}

TEST(ProducerStateTest, NewEpochStartsAtZeroAndForgetsTheOldBatches) {
  Log log;
  log.Append(7, 0, 0, 5);
  const AppendCheck not_zero = log.Append(7, 1, 5, 1);
  EXPECT_EQ(not_zero.error, kafka::ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(log.Append(7, 1, 0, 2).outcome, Outcome::kAppend);
  EXPECT_EQ(log.table.Find(7)->epoch, 1);
  EXPECT_EQ(log.table.Find(7)->batches.size(), 1u);
  EXPECT_EQ(log.Append(7, 1, 2, 1).outcome, Outcome::kAppend);
}

TEST(ProducerStateTest, OlderEpochIsInvalidProducerEpoch) {
  Log log;
  log.Append(7, 0, 0, 5);
  log.Append(7, 1, 0, 1);
  const AppendCheck stale = log.Append(7, 0, 5, 1);
  EXPECT_EQ(stale.outcome, Outcome::kRefused);
  EXPECT_EQ(stale.error, kafka::ErrorCode::kInvalidProducerEpoch);
  // Even a retry of a batch of the old epoch: its batches are forgotten.
  EXPECT_EQ(log.Append(7, 0, 0, 5).error, kafka::ErrorCode::kInvalidProducerEpoch);
}

TEST(ProducerStateTest, BatchesOfOneCallChainAndADuplicateAmongThemWritesNothing) {
  Log log;
  EXPECT_EQ(log.AppendAll({Batch(7, 0, 0, 2, 0), Batch(7, 0, 2, 2, 0), Batch(8, 0, 0, 1, 0)})
                .outcome,
            Outcome::kAppend);
  EXPECT_EQ(log.table.Find(7)->last_sequence(), 3);
  EXPECT_EQ(log.AppendAll({Batch(7, 0, 4, 1, 0), Batch(7, 0, 6, 1, 0)}).error,
            kafka::ErrorCode::kOutOfOrderSequenceNumber);
  const AppendCheck dup = log.AppendAll({Batch(7, 0, 4, 1, 0), Batch(7, 0, 2, 2, 0)});
  EXPECT_EQ(dup.outcome, Outcome::kDuplicate);
  EXPECT_EQ(dup.duplicate.first_offset, 2);
  EXPECT_EQ(log.table.Find(7)->last_sequence(), 3);
}

TEST(ProducerStateTest, CheckLeavesTheTableAlone) {
  Log log;
  log.Append(7, 0, 0, 2);
  const ProducerStateTable before = log.table;
  const AppendCheck check = log.table.Check({Batch(7, 0, 2, 2, 2), Batch(9, 0, 0, 1, 4)});
  EXPECT_EQ(check.outcome, Outcome::kAppend);
  EXPECT_EQ(check.updated.size(), 2u);
  EXPECT_EQ(log.table, before);
}

TEST(ProducerStateTest, ReplayRebuildsWhatAppendsBuilt) {
  Log log;
  for (int i = 0; i < 8; ++i) log.Append(7, 0, i, 1);
  log.Append(8, 2, 40, 3);
  log.Append(8, 3, 0, 3);
  ProducerStateTable replayed;
  for (const auto& h : log.written) replayed.Replay(h, kNow);
  EXPECT_EQ(replayed, log.table);
}

TEST(ProducerStateTest, IdleProducersExpire) {
  ProducerStateTable table;
  table.Replay(Batch(1, 0, 0, 1, 0), 1000);
  table.Replay(Batch(2, 0, 0, 1, 1), 5000);
  EXPECT_EQ(table.RemoveExpired(5999, 5000), 0u);
  EXPECT_EQ(table.RemoveExpired(6000, 5000), 1u);
  EXPECT_EQ(table.Find(1), nullptr);
  EXPECT_NE(table.Find(2), nullptr);
}

// --- snapshots --------------------------------------------------------------------------------

ProducerStateTable SeveralProducers(std::int64_t* end) {
  Log log;
  for (int i = 0; i < 7; ++i) log.Append(100, 0, i * 3, 3);
  log.Append(5, 4, 0, 1);
  log.Append(kMaxSequence, 0, kMaxSequence - 1, 2);
  log.Append(-1, -1, -1, 4);
  *end = log.end();
  return log.table;
}

TEST(ProducerSnapshotTest, RoundTrip) {
  std::int64_t end = 0;
  const ProducerStateTable table = SeveralProducers(&end);
  const std::string bytes = table.EncodeSnapshot(end);
  Result<ProducerStateTable::Snapshot> back = ProducerStateTable::DecodeSnapshot(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value().offset, end);
  EXPECT_EQ(back.value().table, table);
  EXPECT_EQ(back.value().table.Find(100)->batches.size(), kBatchesPerProducer);
  EXPECT_EQ(back.value().table.EncodeSnapshot(end), bytes);
}

TEST(ProducerSnapshotTest, EmptyTableRoundTrips) {
  Result<ProducerStateTable::Snapshot> back =
      ProducerStateTable::DecodeSnapshot(ProducerStateTable().EncodeSnapshot(0));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back.value().table.empty());
}

TEST(ProducerSnapshotTest, EveryFlippedByteIsCorruption) {
  std::int64_t end = 0;
  const std::string bytes = SeveralProducers(&end).EncodeSnapshot(end);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    Result<ProducerStateTable::Snapshot> r = ProducerStateTable::DecodeSnapshot(damaged);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  }
}

TEST(ProducerSnapshotTest, EveryTruncationIsCorruption) {
  std::int64_t end = 0;
  const std::string bytes = SeveralProducers(&end).EncodeSnapshot(end);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(ProducerStateTable::DecodeSnapshot(bytes.substr(0, n)).status().code(),
              Status::Code::kCorruption)
        << n << " bytes";
  }
  EXPECT_FALSE(ProducerStateTable::DecodeSnapshot(bytes + "x").ok());
}

TEST(ProducerSnapshotTest, UnknownVersionIsRefused) {
  std::string bytes = ProducerStateTable().EncodeSnapshot(0);
  bytes[5] = 3;  // version u16 after the 4-byte magic
  Result<ProducerStateTable::Snapshot> r = ProducerStateTable::DecodeSnapshot(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown version 3"), std::string::npos);
}

TEST(ProducerSnapshotTest, BatchAtOrPastTheSnapshotOffsetIsRefused) {
  ProducerStateTable table;
  table.Replay(Batch(1, 0, 0, 2, 10), kNow);  // offsets 10..11
  EXPECT_TRUE(ProducerStateTable::DecodeSnapshot(table.EncodeSnapshot(12)).ok());
  EXPECT_FALSE(ProducerStateTable::DecodeSnapshot(table.EncodeSnapshot(11)).ok());
}

}  // namespace
}  // namespace tern::broker::txn
