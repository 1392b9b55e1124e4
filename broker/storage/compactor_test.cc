// Compaction (PartitionLog::Compact, compactor.h, batch_cleaner.h): latest record per key,
// tombstones and their delete horizon, compressed batches, the active segment and the
// compaction lag, concurrency with appends and reads, crashes and reopening.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "broker/storage/compactor.h"
#include "broker/storage/file.h"
#include "broker/storage/partition_log.h"
#include "broker/storage/test_util.h"
#include "common/crc32c.h"
#include "kafka/compression.h"
#include "kafka/records.h"
#include "kafka/wire.h"

namespace tern::broker::storage {
namespace {

using testing_util::FakeClock;
using testing_util::OpenOrDie;
using testing_util::ReadRanges;
using testing_util::TempDir;

constexpr std::int64_t kNoBound = std::numeric_limits<std::int64_t>::max();
using Value = std::optional<std::string>;

// One record as a consumer sees it.
struct Seen {
  std::int64_t offset;
  std::string key;
  Value value;
  std::int64_t timestamp;
  friend bool operator==(const Seen&, const Seen&) = default;
};

std::string KeyedBatch(const std::vector<std::pair<std::string, Value>>& records,
                       std::int64_t timestamp) {
  std::vector<kafka::RecordToBuild> list;
  for (const auto& [key, value] : records) {
    list.push_back({.key = key, .value = value, .headers = {}, .timestamp = timestamp++});
  }
  return kafka::BuildRecordBatch(list);
}

// `batch` with its records compressed by `codec`.
std::string Compressed(const std::string& batch, kafka::Codec codec) {
  Result<std::string> body = kafka::Compress(codec, batch.substr(kafka::kRecordBatchHeaderSize));
  EXPECT_TRUE(body.ok());
  kafka::Writer header;
  header.WriteRaw(std::string_view(batch).substr(0, kafka::kAttributesPosition));
  const auto attributes = static_cast<std::int16_t>(
      (kafka::ParseRecordBatchHeader(batch).value().attributes & ~0x7) |
      static_cast<int>(codec));
  header.WriteInt16(attributes);
  std::string out = header.TakeBuffer() +
                    batch.substr(kafka::kAttributesPosition + 2,
                                 kafka::kRecordBatchHeaderSize - kafka::kAttributesPosition - 2) +
                    body.value();
  kafka::Writer length;
  length.WriteInt32(static_cast<std::int32_t>(out.size() - kafka::kRecordBatchLogOverhead));
  out.replace(kafka::kBatchLengthPosition, 4, length.buffer());
  kafka::Writer crc;
  crc.WriteUint32(crc32c::Value(std::string_view(out).substr(kafka::kAttributesPosition)));
  out.replace(kafka::kCrcPosition, 4, crc.buffer());
  return out;
}

class CompactorTest : public ::testing::Test {
 protected:
  CompactorTest() {
    config_.cleanup_policy = CleanupPolicy::kCompact;
    config_.segment_ms = 1000;  // the clock rolls segments: see NextSegment
    config_.index_interval_bytes = 64;
  }
  std::string Dir() const { return tmp_.path() + "/compacted-0"; }
  std::unique_ptr<PartitionLog> Open() { return OpenOrDie(Dir(), config_, clock_); }
  // The next append starts a new segment.
  void NextSegment() { clock_.Advance(config_.segment_ms); }
  std::int64_t Append(PartitionLog& log, const std::string& batch) {
    Result<AppendResult> r = log.Append(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value().first_offset : -1;
  }
  void Compact(PartitionLog& log) {
    const Status s = log.Compact(clock_.now());
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  static std::string ReadAll(PartitionLog& log) {
    Result<ReadResult> r = log.Read(log.log_start_offset(), 1 << 30, true, kNoBound);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? ReadRanges(r.value()) : "";
  }
  // Every record of the log, validating each batch (CRC included) on the way.
  static std::vector<Seen> Records(std::string_view bytes) {
    std::vector<Seen> seen;
    Result<std::vector<kafka::RecordBatchHeader>> headers = kafka::ValidateRecordBatches(bytes);
    EXPECT_TRUE(headers.ok()) << headers.status().ToString();
    if (!headers.ok()) return seen;
    for (const kafka::RecordBatchHeader& h : headers.value()) {
      std::string_view body =
          bytes.substr(kafka::kRecordBatchHeaderSize,
                       static_cast<std::size_t>(h.size_in_bytes()) - kafka::kRecordBatchHeaderSize);
      Result<std::string> plain =
          kafka::Decompress(static_cast<kafka::Codec>(h.codec()), body, 1 << 28);
      EXPECT_TRUE(plain.ok());
      std::vector<kafka::Record> records;
      EXPECT_TRUE(kafka::DecodeRecords(plain.value(), h.records_count, &records).ok());
      for (const kafka::Record& r : records) {
        seen.push_back({h.base_offset + r.offset_delta, std::string(r.key.value_or("")),
                        r.value ? Value(std::string(*r.value)) : std::nullopt,
                        h.base_timestamp + r.timestamp_delta});
      }
      bytes.remove_prefix(static_cast<std::size_t>(h.size_in_bytes()));
    }
    return seen;
  }
  // The batch of `bytes` with base offset `base`, or "" when there is none.
  static std::string BatchAt(std::string_view bytes, std::int64_t base) {
    for (const kafka::RecordBatchHeader& h : testing_util::Headers(bytes)) {
      const auto size = static_cast<std::size_t>(h.size_in_bytes());
      if (h.base_offset == base) return std::string(bytes.substr(0, size));
      bytes.remove_prefix(size);
    }
    return "";
  }
  // What compaction should keep of `before`: the latest record of each key.
  static std::vector<Seen> LatestPerKey(const std::vector<Seen>& before) {
    std::map<std::string, Seen> latest;
    for (const Seen& s : before) latest.insert_or_assign(s.key, s);
    std::vector<Seen> out;
    for (const auto& [key, s] : latest) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const Seen& a, const Seen& b) {
      return a.offset < b.offset;
    });
    return out;
  }

  TempDir tmp_;
  FakeClock clock_;
  LogConfig config_;
};

TEST_F(CompactorTest, OnlyTheLatestRecordPerKeySurvivesWithOffsetsUnchanged) {
  auto log = Open();
  std::int64_t unique_base = -1;
  int n = 0;
  for (int segment = 0; segment < 4; ++segment) {
    for (int batch = 0; batch < 5; ++batch) {
      std::vector<std::pair<std::string, Value>> records;
      for (int i = 0; i < 4; ++i, ++n) {
        records.emplace_back("k" + std::to_string(n % 10), "v" + std::to_string(n));
      }
      Append(*log, KeyedBatch(records, 1000 + n));
    }
    if (segment == 1) unique_base = Append(*log, KeyedBatch({{"u1", "x"}, {"u2", "y"}}, 5000));
    NextSegment();
  }
  Append(*log, KeyedBatch({{"k0", "active"}}, 9000));
  ASSERT_EQ(log->segment_count(), 5u);
  const std::string before = ReadAll(*log);
  const std::vector<Seen> all = Records(before);
  const std::int64_t end = log->log_end_offset();

  Compact(*log);
  const std::string after = ReadAll(*log);
  std::vector<Seen> expected = LatestPerKey({all.begin(), all.end() - 1});
  expected.push_back(all.back());
  EXPECT_EQ(Records(after), expected);
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->size_bytes(), static_cast<std::int64_t>(after.size()));
  // The third segment held only superseded records and is gone; the first, as empty, stays.
  EXPECT_EQ(log->segment_count(), 4u);
  EXPECT_LT(after.size(), before.size());
  // A batch compaction leaves whole is served byte for byte as it was appended.
  EXPECT_EQ(BatchAt(after, unique_base), BatchAt(before, unique_base));
  EXPECT_FALSE(BatchAt(after, unique_base).empty());
  // Reads from an offset inside a gap start at the next surviving batch.
  Result<ReadResult> from_gap = log->Read(1, 1 << 20, true, kNoBound);
  ASSERT_TRUE(from_gap.ok());
  EXPECT_EQ(Records(ReadRanges(from_gap.value())).front().offset, expected.front().offset);
  // A second pass finds nothing more to do.
  Compact(*log);
  EXPECT_EQ(ReadAll(*log), after);
}

TEST_F(CompactorTest, TombstoneIsRemovedOnlyAfterDeleteRetention) {
  config_.delete_retention_ms = 10000;
  auto log = Open();
  Append(*log, KeyedBatch({{"a", "1"}, {"b", "1"}}, 100));
  NextSegment();
  Append(*log, KeyedBatch({{"a", std::nullopt}}, 200));
  NextSegment();
  Append(*log, KeyedBatch({{"c", "1"}}, 300));

  Compact(*log);
  const std::vector<Seen> with_tombstone = {
      {1, "b", "1", 101}, {2, "a", std::nullopt, 200}, {3, "c", "1", 300}};
  EXPECT_EQ(Records(ReadAll(*log)), with_tombstone);
  clock_.Advance(9999);
  Compact(*log);
  EXPECT_EQ(Records(ReadAll(*log)), with_tombstone);
  // The horizon is stored in the batch, so it survives a restart.
  ASSERT_TRUE(log->Close().ok());
  log = Open();
  clock_.Advance(1);
  Compact(*log);
  EXPECT_EQ(Records(ReadAll(*log)),
            (std::vector<Seen>{{1, "b", "1", 101}, {3, "c", "1", 300}}));
  EXPECT_EQ(log->log_end_offset(), 4);
}

TEST_F(CompactorTest, RecordsWithoutKeyAreRemovedAndControlBatchesKept) {
  auto log = Open();
  Append(*log, kafka::BuildRecordBatch({{.key = std::nullopt, .value = "x", .headers = {},
                                         .timestamp = 1}}));
  const std::string marker = kafka::BuildRecordBatch(
      {{.key = kafka::EncodeControlRecordKey(kafka::ControlRecordType::kCommit),
        .value = std::string(6, '\0'), .headers = {}, .timestamp = 2}},
      {.base_offset = 0, .partition_leader_epoch = -1, .attributes = 0x30, .producer_id = 7,
       .producer_epoch = 0, .base_sequence = -1});
  Append(*log, marker);
  NextSegment();
  Append(*log, KeyedBatch({{"z", "1"}}, 3));
  Compact(*log);
  const std::string after = ReadAll(*log);
  const std::vector<kafka::RecordBatchHeader> headers = testing_util::Headers(after);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_TRUE(headers[0].is_control());
  EXPECT_EQ(BatchAt(after, 1), testing_util::WithBaseOffset(marker, 1));
}

class CompressedCompactionTest : public CompactorTest,
                                 public ::testing::WithParamInterface<kafka::Codec> {};

TEST_P(CompressedCompactionTest, CompressedBatchesKeepTheirCodec) {
  auto log = Open();
  for (int segment = 0; segment < 3; ++segment) {
    for (int batch = 0; batch < 3; ++batch) {
      std::vector<std::pair<std::string, Value>> records;
      for (int i = 0; i < 5; ++i) {
        records.emplace_back("k" + std::to_string((segment * 15 + batch * 5 + i) % 7),
                             std::string(200, static_cast<char>('a' + segment)));
      }
      Append(*log, Compressed(KeyedBatch(records, 10 * segment + batch), GetParam()));
    }
    NextSegment();
  }
  Append(*log, Compressed(KeyedBatch({{"tail", "t"}}, 99), GetParam()));
  const std::vector<Seen> all = Records(ReadAll(*log));

  Compact(*log);
  const std::string after = ReadAll(*log);
  std::vector<Seen> expected = LatestPerKey({all.begin(), all.end() - 1});
  expected.push_back(all.back());
  EXPECT_EQ(Records(after), expected);
  for (const kafka::RecordBatchHeader& h : testing_util::Headers(after)) {
    EXPECT_EQ(h.codec(), static_cast<int>(GetParam()));
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedCompactionTest,
                         ::testing::Values(kafka::Codec::kGzip, kafka::Codec::kZstd));

TEST_F(CompactorTest, ActiveSegmentIsNeverTouched) {
  auto log = Open();
  for (int i = 0; i < 20; ++i) Append(*log, KeyedBatch({{"same", std::to_string(i)}}, i));
  const std::string before = ReadAll(*log);
  Compact(*log);
  EXPECT_EQ(ReadAll(*log), before);
  EXPECT_EQ(log->segment_count(), 1u);
}

TEST_F(CompactorTest, SegmentsYoungerThanTheCompactionLagAreNotCleaned) {
  config_.min_compaction_lag_ms = 60000;
  auto log = Open();
  Append(*log, KeyedBatch({{"a", "old"}}, clock_.now() - 120000));
  NextSegment();
  Append(*log, KeyedBatch({{"a", "new"}}, clock_.now()));
  NextSegment();
  Append(*log, KeyedBatch({{"a", "newest"}}, clock_.now()));
  const std::string before = ReadAll(*log);
  Compact(*log);
  // Only the first segment is cleanable, and its one record is the latest there.
  EXPECT_EQ(ReadAll(*log), before);
  clock_.Advance(60000);
  Compact(*log);
  EXPECT_EQ(Records(ReadAll(*log)).size(), 2u);
}

TEST_F(CompactorTest, AppendsAndReadsRunConcurrentlyWithCompaction) {
  config_.segment_ms = std::numeric_limits<std::int64_t>::max();
  config_.segment_bytes = 4096;
  auto log = Open();
  constexpr int kWrites = 3000;
  constexpr int kKeys = 13;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      ASSERT_TRUE(log->Append(KeyedBatch({{"k" + std::to_string(i % kKeys),
                                           std::to_string(i)}}, i)).ok());
    }
    done = true;
  });
  std::thread reader([&] {
    while (!done) {
      Result<ReadResult> r = log->Read(log->log_start_offset(), 1 << 30, true, kNoBound);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      std::int64_t previous = -1;
      for (const Seen& s : Records(ReadRanges(r.value()))) {
        ASSERT_GT(s.offset, previous);
        ASSERT_EQ(s.value, std::to_string(s.offset));
        previous = s.offset;
      }
      ASSERT_LE(previous + 1, r.value().next_offset);
    }
  });
  while (!done) Compact(*log);
  writer.join();
  reader.join();
  // Roll past everything and compact once more: one record per key is left.
  config_.segment_bytes = 1;
  log->SetConfig(config_);
  Append(*log, KeyedBatch({{"tail", "-"}}, 0));
  Compact(*log);
  const std::vector<Seen> left = Records(ReadAll(*log));
  ASSERT_EQ(left.size(), static_cast<std::size_t>(kKeys + 1));
  for (int i = 0; i < kKeys; ++i) {
    const int last = kWrites - kKeys + i;
    EXPECT_EQ(left[static_cast<std::size_t>(i)].offset, last);
    EXPECT_EQ(left[static_cast<std::size_t>(i)].value, std::to_string(last));
  }
}

TEST_F(CompactorTest, LeftoverCleanedFilesAreRemovedOnOpen) {
  std::string before;
  {
    auto log = Open();
    Append(*log, KeyedBatch({{"a", "1"}, {"a", "2"}}, 1));
    NextSegment();
    Append(*log, KeyedBatch({{"b", "1"}}, 2));
    before = ReadAll(*log);
    ASSERT_TRUE(log->Close().ok());
  }
  // A pass that crashed after writing its cleaned copy, before installing it.
  Result<std::shared_ptr<Segment>> original = Segment::Recover(Dir(), 0, {});
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  LatestOffsets latest;
  ASSERT_TRUE(CollectSegmentKeys(*original.value(), &latest).ok());
  Result<std::shared_ptr<Segment>> cleaned =
      WriteCleanedSegment(Dir(), *original.value(), latest, {.now_ms = 0}, 64);
  ASSERT_TRUE(cleaned.ok() && cleaned.value() != nullptr);
  ASSERT_TRUE(FileExists(SegmentPath(Dir(), 0, ".log.cleaned")));
  ASSERT_TRUE(FileExists(SegmentPath(Dir(), 0, ".timeindex.cleaned")));

  auto log = Open();
  EXPECT_FALSE(FileExists(SegmentPath(Dir(), 0, ".log.cleaned")));
  EXPECT_FALSE(FileExists(SegmentPath(Dir(), 0, ".index.cleaned")));
  EXPECT_FALSE(FileExists(SegmentPath(Dir(), 0, ".timeindex.cleaned")));
  EXPECT_EQ(ReadAll(*log), before);
  Compact(*log);
  EXPECT_EQ(Records(ReadAll(*log)).size(), 2u);
}

TEST_F(CompactorTest, ReopeningAfterCompactionGivesTheSameData) {
  std::string after;
  {
    auto log = Open();
    for (int i = 0; i < 30; ++i) {
      Append(*log, KeyedBatch({{"k" + std::to_string(i % 4), std::to_string(i)}}, i));
      if (i % 7 == 6) NextSegment();
    }
    Compact(*log);
    after = ReadAll(*log);
    ASSERT_TRUE(log->Close().ok());
  }
  {
    auto log = Open();
    EXPECT_EQ(ReadAll(*log), after);
    EXPECT_EQ(log->log_end_offset(), 30);
    // No Close: the next Open scans every segment and rebuilds their indexes.
  }
  auto log = Open();
  EXPECT_EQ(ReadAll(*log), after);
  EXPECT_EQ(log->log_end_offset(), 30);
  EXPECT_TRUE(log->Append(KeyedBatch({{"k0", "more"}}, 99)).ok());
}

}  // namespace
}  // namespace tern::broker::storage
