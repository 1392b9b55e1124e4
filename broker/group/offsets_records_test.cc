#include "broker/group/offsets_records.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::broker::group {
namespace {

// Bytes written out by hand from the field lists of Kafka's OffsetCommitKey, OffsetCommitValue
// and GroupMetadataKey schemas: int16 version, then the fields big-endian, strings as an int16
// length and the bytes (version 4: an unsigned varint length + 1), then (v4) tagged fields.
std::string Hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr std::int64_t kTimestamp = 1'700'000'000'000;  // 0x0000018BCFE56800

TEST(OffsetsRecordsTest, OffsetCommitKeyIsVersion1GroupTopicPartition) {
  EXPECT_EQ(EncodeOffsetCommitKey("g1", "t", 3),
            Hex("0001"              // version 1
                "0002" "6731"       // "g1"
                "0001" "74"         // "t"
                "00000003"));       // partition 3
}

TEST(OffsetsRecordsTest, OffsetCommitValueIsVersion3) {
  OffsetCommitValue v{.offset = 42, .leader_epoch = 5, .metadata = "m",
                      .commit_timestamp_ms = kTimestamp, .expire_timestamp_ms = -1};
  EXPECT_EQ(EncodeOffsetCommitValue(v),
            Hex("0003"                  // version 3
                "000000000000002a"      // offset 42
                "00000005"              // leader epoch 5
                "0001" "6d"             // metadata "m"
                "0000018bcfe56800"));   // commit timestamp
}

TEST(OffsetsRecordsTest, ValueWithItsOwnExpiryIsVersion1) {
  OffsetCommitValue v{.offset = 42, .leader_epoch = 5, .metadata = "m",
                      .commit_timestamp_ms = kTimestamp,
                      .expire_timestamp_ms = kTimestamp + 60'000};
  EXPECT_EQ(EncodeOffsetCommitValue(v),
            Hex("0001"                  // version 1: no leader epoch
                "000000000000002a"
                "0001" "6d"
                "0000018bcfe56800"
                "0000018bcfe65260"));   // expire timestamp
}

TEST(OffsetsRecordsTest, FlexibleValueVersion4) {
  OffsetCommitValue v{.offset = 42, .leader_epoch = 5, .metadata = "m",
                      .commit_timestamp_ms = kTimestamp, .expire_timestamp_ms = -1};
  EXPECT_EQ(EncodeOffsetCommitValueV4(v),
            Hex("0004"
                "000000000000002a"
                "00000005"
                "02" "6d"               // compact string: length + 1
                "0000018bcfe56800"
                "00"));                 // no tagged fields
}

TEST(OffsetsRecordsTest, GroupMetadataKeyIsVersion2) {
  EXPECT_EQ(EncodeGroupMetadataKey("g1"), Hex("0002" "0002" "6731"));
}

TEST(OffsetsRecordsTest, KeysDecode) {
  auto k = DecodeOffsetsRecordKey(EncodeOffsetCommitKey("group-é", "orders", 7));
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k.value().type, OffsetsRecordKey::Type::kOffsetCommit);
  EXPECT_EQ(k.value().version, 1);
  EXPECT_EQ(k.value().group, "group-é");
  EXPECT_EQ(k.value().topic, "orders");
  EXPECT_EQ(k.value().partition, 7);

  // Version 0 has the same layout.
  auto k0 = DecodeOffsetsRecordKey(Hex("0000" "0002" "6731" "0001" "74" "00000003"));
  ASSERT_TRUE(k0.ok());
  EXPECT_EQ(k0.value().type, OffsetsRecordKey::Type::kOffsetCommit);
  EXPECT_EQ(k0.value().group, "g1");
  EXPECT_EQ(k0.value().partition, 3);

  auto g = DecodeOffsetsRecordKey(EncodeGroupMetadataKey("g1"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.value().type, OffsetsRecordKey::Type::kGroupMetadata);
  EXPECT_EQ(g.value().group, "g1");

  // KIP-848 record types are recognised as something else, not an error.
  auto other = DecodeOffsetsRecordKey(Hex("0003" "0002" "6731"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.value().type, OffsetsRecordKey::Type::kOther);
}

TEST(OffsetsRecordsTest, MalformedKeysFail) {
  EXPECT_FALSE(DecodeOffsetsRecordKey("").ok());
  EXPECT_FALSE(DecodeOffsetsRecordKey(Hex("00")).ok());
  EXPECT_FALSE(DecodeOffsetsRecordKey(Hex("0001" "0005" "6731")).ok());  // string past the end
  EXPECT_FALSE(DecodeOffsetsRecordKey(Hex("0001" "0002" "6731" "0001" "74" "0000")).ok());
}

TEST(OffsetsRecordsTest, EveryValueVersionDecodes) {
  const OffsetCommitValue want3{.offset = 42, .leader_epoch = 5, .metadata = "m",
                                .commit_timestamp_ms = kTimestamp, .expire_timestamp_ms = -1};
  auto v3 = DecodeOffsetCommitValue(EncodeOffsetCommitValue(want3));
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_EQ(v3.value(), want3);

  auto v4 = DecodeOffsetCommitValue(EncodeOffsetCommitValueV4(want3));
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4.value(), want3);

  // Version 4 with its topic id (tag 0, 16 bytes), as Kafka writes for commits by topic id.
  auto v4_tagged = DecodeOffsetCommitValue(
      Hex("0004" "000000000000002a" "00000005" "026d" "0000018bcfe56800"
          "01" "00" "10" "0102030405060708090a0b0c0d0e0f10"));
  ASSERT_TRUE(v4_tagged.ok()) << v4_tagged.status().ToString();
  EXPECT_EQ(v4_tagged.value(), want3);

  const OffsetCommitValue want1{.offset = 42, .leader_epoch = -1, .metadata = "m",
                                .commit_timestamp_ms = kTimestamp,
                                .expire_timestamp_ms = kTimestamp + 60'000};
  auto v1 = DecodeOffsetCommitValue(EncodeOffsetCommitValue(want1));
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1.value(), want1);

  const OffsetCommitValue want0{.offset = 42, .leader_epoch = -1, .metadata = "m",
                                .commit_timestamp_ms = kTimestamp, .expire_timestamp_ms = -1};
  for (const char* version : {"0000", "0002"}) {
    auto v = DecodeOffsetCommitValue(Hex(std::string(version) +
                                         "000000000000002a" "00016d" "0000018bcfe56800"));
    ASSERT_TRUE(v.ok()) << version;
    EXPECT_EQ(v.value(), want0) << version;
  }
}

TEST(OffsetsRecordsTest, UnknownOrTruncatedValuesFail) {
  auto v5 = DecodeOffsetCommitValue(Hex("0005" "000000000000002a"));
  ASSERT_FALSE(v5.ok());
  EXPECT_EQ(v5.status().code(), Status::Code::kUnsupported);
  EXPECT_FALSE(DecodeOffsetCommitValue(Hex("0003" "000000000000002a" "00000005" "0001")).ok());
  EXPECT_FALSE(DecodeOffsetCommitValue("").ok());
}

// Expected values from Java: "s".hashCode() and Utils.abs(h) % n, computed with jshell.
TEST(OffsetsRecordsTest, JavaStringHashCode) {
  EXPECT_EQ(JavaStringHashCode(""), 0);
  EXPECT_EQ(JavaStringHashCode("g1"), 3242);  // 'g' * 31 + '1'
  EXPECT_EQ(JavaStringHashCode("my-group"), -1906497762);
  EXPECT_EQ(JavaStringHashCode("console-consumer-12345"), 158455506);
  EXPECT_EQ(JavaStringHashCode("replicator.us-east"), -942112643);
  EXPECT_EQ(JavaStringHashCode("polygenelubricants"), INT32_MIN);
  // Outside ASCII the UTF-16 code units count: ü is one, an emoji two (a surrogate pair).
  EXPECT_EQ(JavaStringHashCode("gr\xc3\xbc" "ppe"), -1233264812);
  EXPECT_EQ(JavaStringHashCode("\xf0\x9f\x98\x80" "emoji"), -1233692477);
  EXPECT_EQ(JavaStringLength("\xf0\x9f\x98\x80" "emoji"), 7u);
  EXPECT_EQ(JavaStringLength("gr\xc3\xbc" "ppe"), 6u);
  // A malformed byte counts as one U+FFFD.
  EXPECT_EQ(JavaStringHashCode("\xff"), 0xFFFD);
}

TEST(OffsetsRecordsTest, PartitionForGroupIsKafkas) {
  EXPECT_EQ(PartitionForGroup("g1", 50), 42);
  EXPECT_EQ(PartitionForGroup("my-group", 50), 12);
  EXPECT_EQ(PartitionForGroup("console-consumer-12345", 50), 6);
  EXPECT_EQ(PartitionForGroup("replicator.us-east", 50), 43);
  EXPECT_EQ(PartitionForGroup("", 50), 0);
  EXPECT_EQ(PartitionForGroup("polygenelubricants", 50), 0);  // abs(INT32_MIN) is 0
  EXPECT_EQ(PartitionForGroup("gr\xc3\xbc" "ppe", 50), 12);
  EXPECT_EQ(PartitionForGroup("\xf0\x9f\x98\x80" "emoji", 50), 27);
  EXPECT_EQ(PartitionForGroup("my-group", 7), 1);
  EXPECT_EQ(PartitionForGroup("replicator.us-east", 7), 3);
  EXPECT_EQ(PartitionForGroup("anything", 1), 0);
}

}  // namespace
}  // namespace tern::broker::group
