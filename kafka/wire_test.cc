#include "kafka/wire.h"

#include <gtest/gtest.h>

#include <limits>

namespace tern::kafka {
namespace {

TEST(WireTest, FixedWidthIntegersAreBigEndian) {
  Writer w;
  w.WriteInt16(0x0102);
  w.WriteInt32(-2);
  w.WriteInt64(0x0102030405060708);
  EXPECT_EQ(w.buffer(), std::string("\x01\x02\xff\xff\xff\xfe\x01\x02\x03\x04\x05\x06\x07\x08",
                                    14));
  Reader r(w.buffer());
  std::int16_t a = 0;
  std::int32_t b = 0;
  std::int64_t c = 0;
  ASSERT_TRUE(r.ReadInt16(&a) && r.ReadInt32(&b) && r.ReadInt64(&c));
  EXPECT_EQ(a, 0x0102);
  EXPECT_EQ(b, -2);
  EXPECT_EQ(c, 0x0102030405060708);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireTest, VarintsRoundTripAtTheirLimits) {
  for (std::int32_t v : {0, 1, -1, 63, -64, 64, std::numeric_limits<std::int32_t>::max(),
                         std::numeric_limits<std::int32_t>::min()}) {
    Writer w;
    w.WriteVarint(v);
    Reader r(w.buffer());
    std::int32_t out = 0;
    ASSERT_TRUE(r.ReadVarint(&out));
    EXPECT_EQ(out, v);
  }
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::numeric_limits<std::int64_t>::max(),
                         std::numeric_limits<std::int64_t>::min()}) {
    Writer w;
    w.WriteVarlong(v);
    Reader r(w.buffer());
    std::int64_t out = 0;
    ASSERT_TRUE(r.ReadVarlong(&out));
    EXPECT_EQ(out, v);
  }
}

TEST(WireTest, ZigZagVarintEncodingMatchesTheSpec) {
  Writer w;
  w.WriteVarint(-1);  // zig-zag 1
  w.WriteVarint(1);   // zig-zag 2
  w.WriteVarint(300); // zig-zag 600 = 0xd8 0x04
  EXPECT_EQ(w.buffer(), std::string("\x01\x02\xd8\x04", 4));
}

TEST(WireTest, OverlongVarintIsRejected) {
  Reader r(std::string_view("\xff\xff\xff\xff\xff\x01", 6));
  std::uint32_t out = 0;
  EXPECT_FALSE(r.ReadUnsignedVarint(&out));
  EXPECT_FALSE(r.status().ok());
}

TEST(WireTest, CompactAndClassicStrings) {
  Writer w;
  w.WriteString("ab", false);
  w.WriteString("ab", true);
  w.WriteNullableString(std::nullopt, false);
  w.WriteNullableString(std::nullopt, true);
  EXPECT_EQ(w.buffer(), std::string("\x00\x02" "ab" "\x03" "ab" "\xff\xff" "\x00", 10));
  Reader r(w.buffer());
  std::string s1;
  std::string s2;
  std::optional<std::string> n1 = "x";
  std::optional<std::string> n2 = "x";
  ASSERT_TRUE(r.ReadString(&s1, false));
  ASSERT_TRUE(r.ReadString(&s2, true));
  ASSERT_TRUE(r.ReadNullableString(&n1, false));
  ASSERT_TRUE(r.ReadNullableString(&n2, true));
  EXPECT_EQ(s1, "ab");
  EXPECT_EQ(s2, "ab");
  EXPECT_FALSE(n1.has_value());
  EXPECT_FALSE(n2.has_value());
}

TEST(WireTest, NullInNonNullableStringIsRejected) {
  Reader r(std::string_view("\xff\xff", 2));
  std::string s;
  EXPECT_FALSE(r.ReadString(&s, false));
  EXPECT_NE(r.status().message().find("negative length"), std::string::npos);
}

TEST(WireTest, TruncatedStringIsRejectedAndFailureSticks) {
  Reader r(std::string_view("\x00\x05" "abc", 5));
  std::string s;
  EXPECT_FALSE(r.ReadString(&s, false));
  std::int8_t b = 0;
  EXPECT_FALSE(r.ReadInt8(&b));
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
}

TEST(WireTest, HugeArrayCountIsRejectedWithoutAllocating) {
  Reader r(std::string_view("\x7f\xff\xff\xff\x00", 5));
  std::optional<std::int32_t> n;
  EXPECT_FALSE(r.ReadArrayLength(&n, false));
}

TEST(WireTest, RecordsAreAViewIntoTheInput) {
  const std::string input("\x00\x00\x00\x03xyz", 7);
  Reader r(input);
  Records rec;
  ASSERT_TRUE(r.ReadRecords(&rec, false));
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec.bytes(), "xyz");
  EXPECT_EQ(rec.bytes().data(), input.data() + 4);
}

TEST(WireTest, FileRangeRecordsAreCountedButNotCopied) {
  Writer w;
  w.WriteInt8(1);
  w.WriteRecords(Records::Files({FileRange{7, 100, 50, nullptr}, FileRange{7, 150, 25, nullptr}}),
                 false);
  w.WriteInt8(2);
  EXPECT_EQ(w.buffer().size(), 1u + 4u + 1u);
  EXPECT_EQ(w.size(), 6 + 75);
  ASSERT_EQ(w.file_ranges().size(), 2u);
  EXPECT_EQ(w.file_ranges()[0].first, 5u);
}

TEST(WireTest, TaggedFieldsAreWrittenInTagOrderWithUnknownOnesMerged) {
  TaggedFieldsWriter tags;
  tags.Add(2).WriteInt8(7);
  Writer out;
  tags.Finish(out, {UnknownTag{1, "ab"}, UnknownTag{5, ""}});
  EXPECT_EQ(out.buffer(), std::string("\x03" "\x01\x02" "ab" "\x02\x01\x07" "\x05\x00", 10));
}

}  // namespace
}  // namespace tern::kafka
