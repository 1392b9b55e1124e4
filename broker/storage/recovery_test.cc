// Recovery on PartitionLog::Open: torn tails, corruption, index rebuilds, clean shutdown.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "broker/storage/file.h"
#include "broker/storage/partition_log.h"
#include "broker/storage/test_util.h"

namespace tern::broker::storage {
namespace {

using testing_util::FakeClock;
using testing_util::Headers;
using testing_util::MakeBatch;
using testing_util::OpenOrDie;
using testing_util::ReadRanges;
using testing_util::TempDir;

constexpr std::int64_t kNoBound = std::numeric_limits<std::int64_t>::max();

class RecoveryTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/topic-3"; }
  std::string SegmentFile(std::int64_t base, const char* ext) const {
    return SegmentPath(Dir(), base, ext);
  }
  std::unique_ptr<PartitionLog> Open() { return OpenOrDie(Dir(), config_, clock_); }
  Result<std::unique_ptr<PartitionLog>> TryOpen() {
    return PartitionLog::Open(Dir(), config_, clock_.clock());
  }
  // Appends `count` batches of 2 records; returns the byte position where each batch ends.
  std::vector<std::int64_t> Fill(PartitionLog& log, int count) {
    std::vector<std::int64_t> ends;
    for (int i = 0; i < count; ++i) {
      EXPECT_TRUE(log.Append(MakeBatch(2, 1000 + i, 20 + i)).ok());
      ends.push_back(log.size_bytes());
    }
    return ends;
  }
  std::string ReadAll(PartitionLog& log) {
    Result<ReadResult> r = log.Read(log.log_start_offset(), 1 << 30, true, kNoBound);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? ReadRanges(r.value()) : "";
  }
  static std::string Slurp(const std::string& path) {
    Result<std::string> bytes = ReadWholeFile(path);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    return bytes.ok() ? bytes.value() : "";
  }
  static void Spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  TempDir tmp_;
  FakeClock clock_;
  LogConfig config_;
};

TEST_F(RecoveryTest, RecoveryTruncatesTornTailAtEveryCutPoint) {
  std::vector<std::int64_t> ends;
  std::string original;
  {
    auto log = Open();
    ends = Fill(*log, 4);
    original = Slurp(SegmentFile(0, ".log"));
  }
  const std::int64_t last_whole = ends[2];
  for (std::int64_t cut = last_whole + 1; cut < ends[3]; ++cut) {
    Spit(SegmentFile(0, ".log"), original.substr(0, static_cast<std::size_t>(cut)));
    auto log = Open();
    ASSERT_NE(log, nullptr) << "cut " << cut;
    EXPECT_EQ(log->log_end_offset(), 6) << "cut " << cut;
    EXPECT_EQ(log->size_bytes(), last_whole);
    EXPECT_EQ(std::filesystem::file_size(SegmentFile(0, ".log")),
              static_cast<std::uintmax_t>(last_whole));
  }
  auto log = Open();
  Result<AppendResult> r = log->Append(MakeBatch(1, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().first_offset, 6);
  EXPECT_EQ(Headers(ReadAll(*log)).size(), 4u);
}

TEST_F(RecoveryTest, RecoveryTruncatesZeroFilledTail) {
  {
    auto log = Open();
    Fill(*log, 3);
  }
  const std::string original = Slurp(SegmentFile(0, ".log"));
  Spit(SegmentFile(0, ".log"), original + std::string(4096, '\0'));
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), 6);
  EXPECT_EQ(log->size_bytes(), static_cast<std::int64_t>(original.size()));
}

TEST_F(RecoveryTest, CorruptionInMiddleRefusesToOpen) {
  std::vector<std::int64_t> ends;
  {
    auto log = Open();
    ends = Fill(*log, 5);
  }
  std::string bytes = Slurp(SegmentFile(0, ".log"));
  const std::size_t damaged = static_cast<std::size_t>(ends[1]) + 40;  // inside batch 2
  bytes[damaged] = static_cast<char>(bytes[damaged] ^ 0x10);
  Spit(SegmentFile(0, ".log"), bytes);
  Result<std::unique_ptr<PartitionLog>> log = TryOpen();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kCorruption);
  EXPECT_NE(log.status().message().find("00000000000000000000.log"), std::string::npos);
  EXPECT_NE(log.status().message().find("byte " + std::to_string(ends[1])), std::string::npos)
      << log.status().ToString();
  // Nothing was cut off.
  EXPECT_EQ(Slurp(SegmentFile(0, ".log")), bytes);
}

TEST_F(RecoveryTest, CorruptionInOlderSegmentRefusesToOpen) {
  config_.segment_bytes = 1;  // one batch per segment
  {
    auto log = Open();
    Fill(*log, 3);
  }
  std::string bytes = Slurp(SegmentFile(2, ".log"));
  bytes[bytes.size() - 1] = static_cast<char>(bytes.back() ^ 1);
  Spit(SegmentFile(2, ".log"), bytes);
  Result<std::unique_ptr<PartitionLog>> log = TryOpen();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kCorruption);
  EXPECT_NE(log.status().message().find("00000000000000000002.log"), std::string::npos);
}

TEST_F(RecoveryTest, TornTailOfOlderSegmentRefusesToOpen) {
  config_.segment_bytes = 1;
  {
    auto log = Open();
    Fill(*log, 3);
  }
  const std::string bytes = Slurp(SegmentFile(0, ".log"));
  Spit(SegmentFile(0, ".log"), bytes.substr(0, bytes.size() - 3));
  EXPECT_EQ(TryOpen().status().code(), Status::Code::kCorruption);
}

TEST_F(RecoveryTest, OffsetsGoingBackwardsAreCorruption) {
  {
    auto log = Open();
    Fill(*log, 3);
  }
  std::string bytes = Slurp(SegmentFile(0, ".log"));
  kafka::StampBaseOffset(bytes.data(), 5);  // first batch now claims 5..6, the next 2..3
  Spit(SegmentFile(0, ".log"), bytes);
  EXPECT_EQ(TryOpen().status().code(), Status::Code::kCorruption);
}

TEST_F(RecoveryTest, CleanShutdownKeepsStateAndRemovesMarker) {
  config_.segment_bytes = 300;
  std::string before;
  {
    auto log = Open();
    Fill(*log, 10);
    before = ReadAll(*log);
    ASSERT_TRUE(log->Close().ok());
    EXPECT_TRUE(std::filesystem::exists(Dir() + "/clean-shutdown"));
  }
  auto log = Open();
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/clean-shutdown"));
  EXPECT_EQ(log->log_end_offset(), 20);
  EXPECT_EQ(ReadAll(*log), before);
  EXPECT_EQ(log->MaxTimestampOffset(), (TimestampOffset{18, 1010}));
}

TEST_F(RecoveryTest, MissingIndexIsRebuiltFromTheLog) {
  config_.index_interval_bytes = 64;
  config_.segment_bytes = 2000;
  std::string index_before;
  {
    auto log = Open();
    Fill(*log, 40);
    ASSERT_GT(log->segment_count(), 2u);
    ASSERT_TRUE(log->Close().ok());
  }
  index_before = Slurp(SegmentFile(0, ".index"));
  const std::string time_before = Slurp(SegmentFile(0, ".timeindex"));
  ASSERT_FALSE(index_before.empty());
  std::filesystem::remove(SegmentFile(0, ".index"));
  std::filesystem::remove(SegmentFile(0, ".timeindex"));
  auto log = Open();
  EXPECT_EQ(Slurp(SegmentFile(0, ".index")), index_before);
  EXPECT_EQ(Slurp(SegmentFile(0, ".timeindex")), time_before);
  Result<ReadResult> r = log->Read(7, 1, true, kNoBound);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Headers(ReadRanges(r.value())).front().base_offset, 6);
}

TEST_F(RecoveryTest, GarbageIndexIsRebuiltFromTheLog) {
  config_.index_interval_bytes = 64;
  config_.segment_bytes = 2000;
  {
    auto log = Open();
    Fill(*log, 40);
    ASSERT_TRUE(log->Close().ok());
  }
  const std::string index_before = Slurp(SegmentFile(0, ".index"));
  Spit(SegmentFile(0, ".index"), std::string(24, '\x7f'));
  Spit(SegmentFile(0, ".timeindex"), "junk");
  auto log = Open();
  EXPECT_EQ(Slurp(SegmentFile(0, ".index")), index_before);
  for (std::int64_t offset = 0; offset < 20; ++offset) {
    Result<ReadResult> r = log->Read(offset, 1, true, kNoBound);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Headers(ReadRanges(r.value())).front().base_offset, offset - offset % 2);
  }
  Result<std::optional<TimestampOffset>> ts = log->OffsetForTimestamp(1005);
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(ts.value(), (TimestampOffset{8, 1005}));
}

TEST_F(RecoveryTest, LeftoverFilesFromDeletionAreRemovedOnOpen) {
  {
    auto log = Open();
    Fill(*log, 1);
  }
  Spit(Dir() + "/00000000000000000099.log.deleted", "old");
  Spit(Dir() + "/log-start-offset.tmp", "7");
  auto log = Open();
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/00000000000000000099.log.deleted"));
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/log-start-offset.tmp"));
  EXPECT_EQ(log->log_end_offset(), 2);
}

TEST_F(RecoveryTest, EmptyLastSegmentAfterRollIsKept) {
  {
    auto log = Open();
    Fill(*log, 2);
  }
  // A crash right after a roll leaves an empty newest segment.
  Spit(SegmentFile(4, ".log"), "");
  auto log = Open();
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(log->log_end_offset(), 4);
  Result<AppendResult> r = log->Append(MakeBatch(1, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().first_offset, 4);
}

}  // namespace
}  // namespace tern::broker::storage
