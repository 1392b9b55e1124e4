#include "replicator/mm2_records.h"

#include <gtest/gtest.h>

namespace tern::mm2 {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(Mm2RecordsTest, TopicNames) {
  EXPECT_EQ(OffsetSyncsTopic("eu-west"), "mm2-offset-syncs.eu-west.internal");
  EXPECT_EQ(CheckpointsTopic("us-east"), "us-east.checkpoints.internal");
}

TEST(Mm2RecordsTest, OffsetSyncBytes) {
  auto kv = Encode(OffsetSync{"ab", 3, 7, 9});
  EXPECT_EQ(kv.key, Bytes({0, 2, 'a', 'b', 0, 0, 0, 3}));
  EXPECT_EQ(kv.value, Bytes({0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9}));
  auto back = DecodeOffsetSync(kv.key, kv.value);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), (OffsetSync{"ab", 3, 7, 9}));
}

TEST(Mm2RecordsTest, CheckpointBytes) {
  Checkpoint c{"g", "t", 1, 100, 90, "m"};
  auto kv = Encode(c);
  EXPECT_EQ(kv.key, Bytes({0, 1, 'g', 0, 1, 't', 0, 0, 0, 1}));
  EXPECT_EQ(kv.value, Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 90, 0, 1, 'm'}));
  auto back = DecodeCheckpoint(kv.key, kv.value);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), c);
}

TEST(Mm2RecordsTest, HeartbeatRoundTrip) {
  Heartbeat h{"us-east", "eu-west", 1700000000000};
  auto kv = Encode(h);
  auto back = DecodeHeartbeat(kv.key, kv.value);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), h);
}

TEST(Mm2RecordsTest, DecodersRefuseBadInput) {
  auto kv = Encode(Checkpoint{"g", "t", 1, 100, 90, ""});
  // Every strict prefix of key or value fails.
  for (std::size_t n = 0; n < kv.key.size(); ++n) {
    EXPECT_FALSE(DecodeCheckpoint(kv.key.substr(0, n), kv.value).ok()) << n;
  }
  for (std::size_t n = 0; n < kv.value.size(); ++n) {
    EXPECT_FALSE(DecodeCheckpoint(kv.key, kv.value.substr(0, n)).ok()) << n;
  }
  // Bytes after the end, an unknown version, a negative string length.
  EXPECT_FALSE(DecodeCheckpoint(kv.key + "x", kv.value).ok());
  std::string v1 = kv.value;
  v1[1] = 1;
  auto bad_version = DecodeCheckpoint(kv.key, v1);
  ASSERT_FALSE(bad_version.ok());
  EXPECT_NE(bad_version.status().message().find("unknown version 1"), std::string::npos);
  EXPECT_FALSE(DecodeOffsetSync(Bytes({0xff, 0xff, 0, 0, 0, 0}), std::string(16, '\0')).ok());
}

}  // namespace
}  // namespace tern::mm2
