#include "kafka/record_batch.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crc32c.h"
#include "kafka/record_batch_builder.h"

namespace tern::kafka {
namespace {

std::string SampleBatch() {
  return BuildRecordBatch(
      {
          {.key = "key-1", .value = "value-1", .headers = {{"h", "v"}}, .timestamp = 1000},
          {.key = std::nullopt, .value = "value-2", .headers = {}, .timestamp = 1005},
          {.key = "key-3", .value = std::nullopt, .headers = {{"n", std::nullopt}},
           .timestamp = 999},
      },
      {.base_offset = 0, .producer_id = 42, .producer_epoch = 3, .base_sequence = 7});
}

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(RecordBatchTest, ValidBatchPasses) {
  const std::string batch = SampleBatch();
  RecordBatchHeader h;
  ASSERT_TRUE(ValidateRecordBatch(batch, &h).ok());
  EXPECT_EQ(h.magic, 2);
  EXPECT_EQ(h.records_count, 3);
  EXPECT_EQ(h.last_offset_delta, 2);
  EXPECT_EQ(h.base_timestamp, 1000);
  EXPECT_EQ(h.max_timestamp, 1005);
  EXPECT_EQ(h.producer_id, 42);
  EXPECT_EQ(h.producer_epoch, 3);
  EXPECT_EQ(h.base_sequence, 7);
  EXPECT_EQ(h.size_in_bytes(), static_cast<std::int64_t>(batch.size()));
  EXPECT_EQ(h.codec(), 0);
  EXPECT_EQ(h.timestamp_type(), TimestampType::kCreateTime);
  EXPECT_FALSE(h.is_transactional());
  EXPECT_FALSE(h.is_control());
}

TEST(RecordBatchTest, AttributeHelpersReadTheirBits) {
  RecordBatchHeader h;
  h.attributes = 0x3c;  // codec 4, log-append time, transactional, control
  EXPECT_EQ(h.codec(), 4);
  EXPECT_EQ(h.timestamp_type(), TimestampType::kLogAppendTime);
  EXPECT_TRUE(h.is_transactional());
  EXPECT_TRUE(h.is_control());
  h.base_offset = 100;
  h.last_offset_delta = 9;
  EXPECT_EQ(h.last_offset(), 109);
}

// A one-record batch written out by hand from the format: key "k", value "v", no headers.
TEST(RecordBatchTest, BuilderMatchesHandWrittenBytes) {
  const std::string batch =
      BuildRecordBatch({{.key = "k", .value = "v", .headers = {}, .timestamp = 1000}});
  std::string expected = Bytes({0, 0, 0, 0, 0, 0, 0, 0,    // baseOffset 0
                                0, 0, 0, 58,               // batchLength 49 + 9
                                0xff, 0xff, 0xff, 0xff,    // partitionLeaderEpoch -1
                                2,                         // magic
                                0, 0, 0, 0,                // crc, filled in below
                                0, 0,                      // attributes
                                0, 0, 0, 0,                // lastOffsetDelta
                                0, 0, 0, 0, 0, 0, 0x03, 0xe8,  // baseTimestamp 1000
                                0, 0, 0, 0, 0, 0, 0x03, 0xe8,  // maxTimestamp 1000
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId
                                0xff, 0xff,                // producerEpoch
                                0xff, 0xff, 0xff, 0xff,    // baseSequence
                                0, 0, 0, 1,                // recordsCount
                                0x10,                      // record length 8, zig-zag
                                0,                         // record attributes
                                0,                         // timestampDelta 0
                                0,                         // offsetDelta 0
                                0x02, 'k',                 // key length 1
                                0x02, 'v',                 // value length 1
                                0});                       // header count 0
  const std::uint32_t crc = crc32c::Value(std::string_view(expected).substr(21));
  for (int i = 0; i < 4; ++i) expected[17 + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_EQ(batch, expected);
}

TEST(RecordBatchTest, BuilderEncodesNullsAsMinusOne) {
  const std::string batch =
      BuildRecordBatch({{.key = std::nullopt, .value = std::nullopt,
                         .headers = {{"h", std::nullopt}}, .timestamp = 0}});
  // After the 61-byte header: length 9 (zig-zag 0x12), attributes, tsDelta, offsetDelta,
  // key -1, value -1, header count 1, header key "h", header value -1.
  EXPECT_EQ(batch.substr(61), Bytes({0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 'h', 0x01}));
  EXPECT_TRUE(ValidateRecordBatch(batch).ok());
}

TEST(RecordBatchTest, EveryFlippedBitCoveredByTheCrcOrLengthIsCaught) {
  const std::string batch = SampleBatch();
  for (std::size_t byte = 0; byte < batch.size(); ++byte) {
    // baseOffset and partitionLeaderEpoch lie outside the CRC by design: the broker stamps them.
    if (byte < 8 || (byte >= 12 && byte < 16)) continue;
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = batch;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      EXPECT_FALSE(ValidateRecordBatch(damaged).ok()) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(RecordBatchTest, TruncatedAtEveryLengthIsRejected) {
  const std::string batch = SampleBatch();
  for (std::size_t n = 0; n < batch.size(); ++n) {
    EXPECT_FALSE(ValidateRecordBatch(std::string_view(batch).substr(0, n)).ok()) << n;
    EXPECT_FALSE(SplitBatches(std::string_view(batch).substr(0, n)).ok() && n > 0) << n;
  }
}

TEST(RecordBatchTest, JunkAfterTheBatchIsRejected) {
  const std::string batch = SampleBatch() + "junk";
  const Status s = ValidateRecordBatch(batch);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_FALSE(SplitBatches(batch).ok());
}

TEST(RecordBatchTest, LengthFieldThatLiesIsRejected) {
  std::string batch = SampleBatch();
  for (const std::int32_t lie : {0, 10, 48, 1000, -1}) {
    std::string damaged = batch;
    for (int i = 0; i < 4; ++i) damaged[8 + i] = static_cast<char>(lie >> (24 - 8 * i));
    EXPECT_FALSE(ValidateRecordBatch(damaged).ok()) << lie;
  }
}

TEST(RecordBatchTest, WrongMagicIsRejectedByName) {
  std::string batch = SampleBatch();
  batch[16] = 1;
  const Status s = ValidateRecordBatch(batch);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("magic"), std::string::npos);
}

TEST(RecordBatchTest, ShortInputFailsToParseHeader) {
  EXPECT_FALSE(ParseRecordBatchHeader(std::string(60, '\0')).ok());
  EXPECT_TRUE(ParseRecordBatchHeader(std::string(61, '\0')).ok());
}

TEST(RecordBatchTest, SplitWalksConcatenatedBatches) {
  const std::string a = SampleBatch();
  const std::string b =
      BuildRecordBatch({{.key = "x", .value = "y", .headers = {}, .timestamp = 5}});
  const std::string all = a + b + a;
  Result<std::vector<RecordBatchHeader>> split = ValidateRecordBatches(all);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  ASSERT_EQ(split.value().size(), 3u);
  EXPECT_EQ(split.value()[0].size_in_bytes(), static_cast<std::int64_t>(a.size()));
  EXPECT_EQ(split.value()[1].size_in_bytes(), static_cast<std::int64_t>(b.size()));
  EXPECT_EQ(split.value()[1].records_count, 1);
  EXPECT_TRUE(SplitBatches("").ok());
}

TEST(RecordBatchTest, SplitRejectsTrailingPartialBatch) {
  const std::string a = SampleBatch();
  const std::string all = a + a.substr(0, a.size() - 1);
  const Result<std::vector<RecordBatchHeader>> split = SplitBatches(all);
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), Status::Code::kCorruption);
  EXPECT_NE(split.status().message().find("partial"), std::string::npos);
}

TEST(RecordBatchTest, ValidateBatchesNamesTheBadBatch) {
  const std::string a = SampleBatch();
  std::string b = a;
  b[b.size() - 1] = static_cast<char>(b.back() ^ 1);
  const Result<std::vector<RecordBatchHeader>> r = ValidateRecordBatches(a + b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("batch 1 at byte " + std::to_string(a.size())),
            std::string::npos)
      << r.status().ToString();
}

TEST(RecordBatchTest, StampsKeepTheBatchValid) {
  std::string batch = SampleBatch();
  StampBaseOffset(batch.data(), 0x0102030405060708);
  StampPartitionLeaderEpoch(batch.data(), 77);
  RecordBatchHeader h;
  ASSERT_TRUE(ValidateRecordBatch(batch, &h).ok());
  EXPECT_EQ(h.base_offset, 0x0102030405060708);
  EXPECT_EQ(h.partition_leader_epoch, 77);
  EXPECT_EQ(h.last_offset(), 0x0102030405060708 + 2);
}

TEST(RecordBatchTest, UnknownCodecIsRejected) {
  RecordBatchOptions options;
  std::string batch =
      BuildRecordBatch({{.key = "k", .value = "v", .headers = {}, .timestamp = 0}}, options);
  batch[22] = 5;  // attributes low byte: codec 5
  const std::uint32_t crc = crc32c::Value(std::string_view(batch).substr(21));
  for (int i = 0; i < 4; ++i) batch[17 + i] = static_cast<char>(crc >> (24 - 8 * i));
  const Status s = ValidateRecordBatch(batch);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("codec"), std::string::npos);
}

}  // namespace
}  // namespace tern::kafka
