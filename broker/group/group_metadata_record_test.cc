#include "broker/group/group_metadata_record.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::broker::group {
namespace {

// Bytes written out by hand from the field list of Kafka's GroupMetadataValue schema
// (group-coordinator/src/main/resources/common/message/GroupMetadataValue.json).
std::string Hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr std::int64_t kTimestamp = 1'700'000'000'000;  // 0x0000018BCFE56800

GroupMetadataValue TwoMembers() {
  GroupMetadataValue v;
  v.protocol_type = "consumer";
  v.generation = 7;
  v.protocol = "range";
  v.leader = "c-1";
  v.current_state_timestamp_ms = kTimestamp;
  v.members.push_back({.member_id = "c-1", .group_instance_id = std::nullopt, .client_id = "c",
                       .client_host = "/h", .rebalance_timeout_ms = 300000,
                       .session_timeout_ms = 45000, .subscription = "S1", .assignment = "A1"});
  v.members.push_back({.member_id = "i-2", .group_instance_id = "i", .client_id = "c",
                       .client_host = "/h", .rebalance_timeout_ms = 60000,
                       .session_timeout_ms = 10000, .subscription = "", .assignment = "A"});
  return v;
}

// Version 3 of TwoMembers(), as Kafka 4.x writes it.
const std::string kVersion3 = Hex(
    "0003"                          // version 3
    "0008" "636f6e73756d6572"       // protocolType "consumer"
    "00000007"                      // generation 7
    "0005" "72616e6765"             // protocol "range"
    "0003" "632d31"                 // leader "c-1"
    "0000018bcfe56800"              // currentStateTimestamp
    "00000002"                      // two members
    "0003" "632d31"                 //   memberId "c-1"
    "ffff"                          //   groupInstanceId null
    "0001" "63"                     //   clientId "c"
    "0002" "2f68"                   //   clientHost "/h"
    "000493e0"                      //   rebalanceTimeout 300000
    "0000afc8"                      //   sessionTimeout 45000
    "00000002" "5331"               //   subscription "S1"
    "00000002" "4131"               //   assignment "A1"
    "0003" "692d32"                 //   memberId "i-2"
    "0001" "69"                     //   groupInstanceId "i"
    "0001" "63"
    "0002" "2f68"
    "0000ea60"                      //   rebalanceTimeout 60000
    "00002710"                      //   sessionTimeout 10000
    "00000000"                      //   subscription empty
    "00000001" "41");               //   assignment "A"

TEST(GroupMetadataRecordTest, EncodesVersion3AsKafkaWritesIt) {
  EXPECT_EQ(EncodeGroupMetadataValue(TwoMembers()), kVersion3);
}

TEST(GroupMetadataRecordTest, DecodesVersion3AsKafkaWritesIt) {
  auto decoded = DecodeGroupMetadataValue(kVersion3);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value(), TwoMembers());
}

TEST(GroupMetadataRecordTest, DecodesAnEmptyGroupWithNullProtocolAndLeader) {
  // What Kafka writes when the last member has left: no protocol, no leader, no members.
  auto decoded = DecodeGroupMetadataValue(Hex("0003"
                                              "0008" "636f6e73756d6572"
                                              "0000000c"            // generation 12
                                              "ffff" "ffff"         // protocol, leader: null
                                              "0000018bcfe56800"
                                              "00000000"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value().generation, 12);
  EXPECT_FALSE(decoded.value().protocol.has_value());
  EXPECT_FALSE(decoded.value().leader.has_value());
  EXPECT_TRUE(decoded.value().members.empty());
}

TEST(GroupMetadataRecordTest, DecodesFlexibleVersion4) {
  auto decoded = DecodeGroupMetadataValue(Hex(
      "0004"
      "09" "636f6e73756d6572"   // compact string: length + 1
      "00000007"
      "06" "72616e6765"
      "00"                      // leader: null
      "0000018bcfe56800"
      "02"                      // one member: count + 1
      "04" "632d31"
      "02" "69"                 // groupInstanceId "i"
      "02" "63"
      "03" "2f68"
      "000493e0"
      "0000afc8"
      "03" "5331"
      "01"                      // assignment: empty
      "01" "07" "02" "abcd"     // one unknown tagged field on the member, skipped
      "00"));                   // no tagged fields on the value
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const GroupMetadataValue& v = decoded.value();
  EXPECT_EQ(v.protocol_type, "consumer");
  EXPECT_EQ(v.protocol, "range");
  EXPECT_FALSE(v.leader.has_value());
  ASSERT_EQ(v.members.size(), 1u);
  EXPECT_EQ(v.members[0].member_id, "c-1");
  EXPECT_EQ(v.members[0].group_instance_id, "i");
  EXPECT_EQ(v.members[0].subscription, "S1");
  EXPECT_EQ(v.members[0].assignment, "");
}

TEST(GroupMetadataRecordTest, DecodesVersion0WithoutTheLaterFields) {
  auto decoded = DecodeGroupMetadataValue(Hex("0000"
                                              "0008" "636f6e73756d6572"
                                              "00000001"
                                              "0005" "72616e6765"
                                              "0003" "632d31"
                                              "00000001"
                                              "0003" "632d31"
                                              "0001" "63"
                                              "0002" "2f68"
                                              "00002710"      // sessionTimeout 10000
                                              "00000000"
                                              "00000000"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value().current_state_timestamp_ms, -1);
  ASSERT_EQ(decoded.value().members.size(), 1u);
  EXPECT_EQ(decoded.value().members[0].rebalance_timeout_ms, -1);
  EXPECT_EQ(decoded.value().members[0].session_timeout_ms, 10000);
  EXPECT_FALSE(decoded.value().members[0].group_instance_id.has_value());
}

TEST(GroupMetadataRecordTest, EveryVersionRoundTripsTheFieldsItHas) {
  for (std::int16_t version = 0; version <= 4; ++version) {
    GroupMetadataValue want = TwoMembers();
    if (version < 3) {
      for (auto& m : want.members) m.group_instance_id.reset();
    }
    if (version < 2) want.current_state_timestamp_ms = -1;
    if (version < 1) {
      for (auto& m : want.members) m.rebalance_timeout_ms = -1;
    }
    auto decoded = DecodeGroupMetadataValue(EncodeGroupMetadataValue(TwoMembers(), version));
    ASSERT_TRUE(decoded.ok()) << version << ": " << decoded.status().ToString();
    EXPECT_EQ(decoded.value(), want) << version;
  }
}

TEST(GroupMetadataRecordTest, TruncatedValuesAndNewerVersionsAreRefused) {
  for (std::size_t n = 0; n < kVersion3.size(); ++n) {
    EXPECT_FALSE(DecodeGroupMetadataValue(kVersion3.substr(0, n)).ok()) << n;
  }
  auto newer = DecodeGroupMetadataValue(Hex("0005" "0000"));
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), Status::Code::kUnsupported);
}

}  // namespace
}  // namespace tern::broker::group
