#include "kafka/records.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace tern::kafka {
namespace {

std::string Encode(const std::vector<Record>& records) {
  Writer w;
  for (const Record& r : records) EncodeRecord(r, w);
  return w.TakeBuffer();
}

std::vector<Record> SampleRecords() {
  Record plain;
  plain.timestamp_delta = 0;
  plain.offset_delta = 0;
  plain.key = "key-0";
  plain.value = "value-0";

  Record with_headers;
  with_headers.timestamp_delta = 12;
  with_headers.offset_delta = 1;
  with_headers.key = std::nullopt;
  with_headers.value = "value-1";
  with_headers.headers = {{"trace", "abc"}, {"", std::nullopt}, {"empty", ""}};

  Record tombstone;
  tombstone.timestamp_delta = -5;
  tombstone.offset_delta = 2;
  tombstone.key = "key-2";
  tombstone.value = std::nullopt;
  return {plain, with_headers, tombstone};
}

// One record whose length field is off by `delta` from the truth, followed by `extra`.
std::string WithLengthField(const Record& record, std::int32_t delta, std::string_view extra) {
  Writer whole;
  EncodeRecord(record, whole);
  Reader r(whole.buffer());
  std::int32_t length = 0;
  EXPECT_TRUE(r.ReadVarint(&length));
  Writer w;
  w.WriteVarint(length + delta);
  w.WriteRaw(r.rest());
  w.WriteRaw(extra);
  return w.TakeBuffer();
}

TEST(RecordsTest, RecordsRoundTrip) {
  const std::vector<Record> records = SampleRecords();
  const std::string bytes = Encode(records);
  std::vector<Record> decoded;
  ASSERT_TRUE(DecodeRecords(bytes, 3, &decoded).ok());
  EXPECT_EQ(decoded, records);
}

TEST(RecordsTest, NullAndEmptyKeysValuesAndHeaderValuesStayDistinct) {
  Record r;
  r.key = "";
  r.value = std::nullopt;
  r.headers = {{"a", std::nullopt}, {"b", ""}};
  const std::string bytes = Encode({r});
  std::vector<Record> decoded;
  ASSERT_TRUE(DecodeRecords(bytes, 1, &decoded).ok());
  ASSERT_EQ(decoded.size(), 1u);
  ASSERT_TRUE(decoded[0].key.has_value());
  EXPECT_EQ(*decoded[0].key, "");
  EXPECT_FALSE(decoded[0].value.has_value());
  ASSERT_EQ(decoded[0].headers.size(), 2u);
  EXPECT_FALSE(decoded[0].headers[0].second.has_value());
  ASSERT_TRUE(decoded[0].headers[1].second.has_value());
  EXPECT_EQ(*decoded[0].headers[1].second, "");
}

TEST(RecordsTest, EncodingMatchesTheWireLayout) {
  Record r;
  r.key = std::nullopt;
  r.value = "v";
  r.headers = {{"h", std::nullopt}};
  // length 10 (zig-zag 20), attributes, timestampDelta 0, offsetDelta 0, key -1 (zig-zag 1),
  // value length 1 (zig-zag 2) "v", one header (2): key length 1 (2) "h", value -1 (1).
  EXPECT_EQ(Encode({r}), std::string("\x14\x00\x00\x00\x01\x02v\x02\x02h\x01", 11));
}

TEST(RecordsTest, DecodedFieldsViewIntoTheInput) {
  const std::string bytes = Encode(SampleRecords());
  std::vector<Record> decoded;
  ASSERT_TRUE(DecodeRecords(bytes, 3, &decoded).ok());
  const char* begin = bytes.data();
  const char* end = begin + bytes.size();
  EXPECT_GE(decoded[0].key->data(), begin);
  EXPECT_LT(decoded[0].key->data(), end);
}

TEST(RecordsTest, EmptyInputHoldsZeroRecords) {
  std::vector<Record> decoded = SampleRecords();
  ASSERT_TRUE(DecodeRecords("", 0, &decoded).ok());
  EXPECT_TRUE(decoded.empty());
}

TEST(RecordsTest, FewerRecordsThanTheCountAreRejected) {
  std::vector<Record> decoded;
  const Status s = DecodeRecords(Encode(SampleRecords()), 4, &decoded);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("holds 3"), std::string::npos) << s.ToString();
}

TEST(RecordsTest, MoreRecordsThanTheCountAreRejected) {
  std::vector<Record> decoded;
  EXPECT_FALSE(DecodeRecords(Encode(SampleRecords()), 2, &decoded).ok());
}

TEST(RecordsTest, NegativeCountIsRejected) {
  std::vector<Record> decoded;
  EXPECT_FALSE(DecodeRecords("", -1, &decoded).ok());
}

TEST(RecordsTest, HugeCountOverTinyInputIsRejectedWithoutHugeAllocation) {
  std::vector<Record> decoded;
  EXPECT_FALSE(
      DecodeRecords(Encode(SampleRecords()), std::numeric_limits<std::int32_t>::max(), &decoded)
          .ok());
  EXPECT_LT(decoded.capacity(), 100u);
}

TEST(RecordsTest, TrailingJunkIsRejected) {
  std::vector<Record> decoded;
  const Status s = DecodeRecords(Encode(SampleRecords()) + '\0', 3, &decoded);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("after the last"), std::string::npos) << s.ToString();
}

TEST(RecordsTest, EveryTruncationIsRejected) {
  const std::string bytes = Encode(SampleRecords());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::vector<Record> decoded;
    EXPECT_FALSE(DecodeRecords(std::string_view(bytes).substr(0, n), 3, &decoded).ok())
        << "prefix of " << n;
  }
}

TEST(RecordsTest, LengthFieldLongerThanTheContentIsRejected) {
  const Record record = SampleRecords()[1];
  std::vector<Record> decoded;
  const Status s = DecodeRecords(WithLengthField(record, +1, "x"), 1, &decoded);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("record 0"), std::string::npos) << s.ToString();
}

TEST(RecordsTest, LengthFieldShorterThanTheContentIsRejected) {
  const Record record = SampleRecords()[1];
  std::vector<Record> decoded;
  const Status s = DecodeRecords(WithLengthField(record, -1, ""), 1, &decoded);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("within the record's length field"), std::string::npos)
      << s.ToString();
}

TEST(RecordsTest, NegativeLengthsOtherThanNullAreRejected) {
  auto decode_body = [](std::string_view body) {
    Writer w;
    w.WriteVarint(static_cast<std::int32_t>(body.size()));
    w.WriteRaw(body);
    std::vector<Record> decoded;
    return DecodeRecords(w.buffer(), 1, &decoded);
  };
  // attributes, timestampDelta, offsetDelta, then key, value, headers.
  const std::string prefix("\x00\x00\x00", 3);
  EXPECT_TRUE(decode_body(prefix + std::string("\x01\x01\x00", 3)).ok());
  EXPECT_FALSE(decode_body(prefix + std::string("\x03\x01\x00", 3)).ok());  // key length -2
  EXPECT_FALSE(decode_body(prefix + std::string("\x01\x03\x00", 3)).ok());  // value length -2
  EXPECT_FALSE(decode_body(prefix + std::string("\x01\x01\x01", 3)).ok());  // header count -1
  // A header key may not be null.
  EXPECT_FALSE(decode_body(prefix + std::string("\x01\x01\x02\x01\x01", 5)).ok());
  // A header count larger than the record could hold.
  EXPECT_FALSE(decode_body(prefix + std::string("\x01\x01\xfe\xff\xff\xff\x07", 7)).ok());

  std::vector<Record> decoded;
  EXPECT_FALSE(DecodeRecords("\x01", 1, &decoded).ok());  // record length -1
}

TEST(RecordsTest, RecordsOfEveryVarintSizeClassRoundTrip) {
  // Lengths whose zig-zag varints take 1, 2, 3 and 4 bytes, at both edges of each class.
  const std::size_t sizes[] = {0, 63, 64, 8191, 8192, 1048575, 1048576};
  // Varlongs of 1 to 10 bytes and varints of 1 to 5 bytes.
  constexpr std::int64_t kMin64 = std::numeric_limits<std::int64_t>::min();
  const std::int64_t timestamps[] = {0,         -1,        64,        -8193,
                                     1 << 20,   1LL << 27, 1LL << 34, -(1LL << 41),
                                     1LL << 48, 1LL << 55, kMin64};
  const std::int32_t offsets[] = {0,       100,
                                  -10000,  1 << 20,
                                  std::numeric_limits<std::int32_t>::max(),
                                  std::numeric_limits<std::int32_t>::min()};
  std::vector<std::string> storage;
  std::vector<Record> records;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    storage.push_back(std::string(sizes[i], static_cast<char>('a' + i)));
  }
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    Record r;
    r.key = storage[i];
    r.value = storage[std::size(sizes) - 1 - i];
    r.headers = {{std::string_view(storage[i]).substr(0, 100), storage[i]}};
    r.timestamp_delta = timestamps[i % std::size(timestamps)];
    r.offset_delta = offsets[i % std::size(offsets)];
    records.push_back(r);
  }
  for (std::size_t i = 0; i < std::size(timestamps); ++i) {
    Record r;
    r.timestamp_delta = timestamps[i];
    r.offset_delta = offsets[i % std::size(offsets)];
    r.attributes = static_cast<std::int8_t>(i);
    records.push_back(r);
  }
  const std::string bytes = Encode(records);
  std::vector<Record> decoded;
  const Status s = DecodeRecords(bytes, static_cast<std::int32_t>(records.size()), &decoded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(decoded, records);
}

TEST(RecordsTest, ControlRecordKeysParse) {
  auto aborted = ParseControlRecordKey(std::string("\x00\x00\x00\x00", 4));
  ASSERT_TRUE(aborted.ok());
  EXPECT_EQ(aborted.value(), ControlRecordType::kAbort);
  auto commit = ParseControlRecordKey(std::string("\x00\x00\x00\x01", 4));
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(commit.value(), ControlRecordType::kCommit);
}

TEST(RecordsTest, ControlRecordKeysRoundTrip) {
  for (auto type : {ControlRecordType::kAbort, ControlRecordType::kCommit}) {
    auto parsed = ParseControlRecordKey(EncodeControlRecordKey(type));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.value(), type);
  }
}

TEST(RecordsTest, NewerControlRecordKeyVersionsWithMoreBytesParse) {
  auto parsed = ParseControlRecordKey(std::string("\x00\x01\x00\x01\xaa\xbb", 6));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value(), ControlRecordType::kCommit);
}

TEST(RecordsTest, MalformedControlRecordKeysAreRejected) {
  EXPECT_EQ(ParseControlRecordKey(std::string("\x00\x00\x00", 3)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseControlRecordKey(std::string("\xff\xff\x00\x01", 4)).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseControlRecordKey(std::string("\x00\x00\x00\x02", 4)).status().code(),
            Status::Code::kUnsupported);
}

}  // namespace
}  // namespace tern::kafka
