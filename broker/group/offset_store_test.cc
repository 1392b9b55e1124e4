#include "broker/group/offset_store.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <optional>

#include "broker/group/group_coordinator.h"
#include "broker/storage/test_util.h"
#include "kafka/record_batch.h"
#include "kafka/records.h"

namespace tern::broker::group {
namespace {

using storage::testing_util::ReadRanges;
using storage::testing_util::TempDir;

constexpr std::int32_t kPartitions = 5;
constexpr std::int64_t kNow = 1'700'000'000'000;

OffsetCommitValue Value(std::int64_t offset, std::string metadata = "",
                        std::int64_t committed_at = kNow) {
  return OffsetCommitValue{.offset = offset, .leader_epoch = 3, .metadata = std::move(metadata),
                           .commit_timestamp_ms = committed_at, .expire_timestamp_ms = -1};
}

// One key/value record as found in __consumer_offsets.
struct Stored {
  std::optional<std::string> key;
  std::optional<std::string> value;
};

class OffsetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open(std::int32_t partitions = kPartitions) {
    topics_ = std::make_unique<Topics>(dir_.path(), BrokerLogDefaults{});
    ASSERT_TRUE(topics_->Load().ok());
    group_commit_ = std::make_unique<GroupCommit>(io_.get_executor(),
                                                  GroupCommit::Options{.sync_threads = 2});
    OffsetStoreOptions options;
    options.partitions = partitions;
    auto store = OffsetStore::Open(*topics_, *group_commit_, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    coordinator_ = std::make_unique<GroupCoordinator>(std::move(store).value(),
                                                      GroupCoordinatorConfig{}, *topics_,
                                                      io_.get_executor());
  }

  void Close() {
    coordinator_.reset();
    group_commit_.reset();
    if (topics_) {
      topics_->ForEachLog([](storage::PartitionLog& log) { (void)log.Close(); });
    }
    topics_.reset();
  }

  void Reopen() {
    Close();
    Open();
  }

  OffsetStore& store() { return coordinator_->offsets(); }

  // Runs `op` on the io_context until it completes.
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::optional<T> result;
    auto guard = asio::make_work_guard(io_);
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      result = std::move(value);
    });
    io_.restart();
    while (!result.has_value()) io_.run_one();
    return std::move(*result);
  }

  Status Write(const std::string& group, std::vector<OffsetChange> changes,
               bool group_tombstone = false) {
    return Run(store().Write(group, std::move(changes), group_tombstone));
  }

  // Every record of one partition of __consumer_offsets, in order.
  std::vector<Stored> Records(std::int32_t partition) {
    auto log = topics_->Log(kOffsetsTopic, partition);
    EXPECT_NE(log, nullptr);
    auto read = log->Read(0, 1 << 20, true, log->log_end_offset());
    EXPECT_TRUE(read.ok());
    const std::string bytes = ReadRanges(read.value());
    std::vector<Stored> out;
    auto headers = kafka::ValidateRecordBatches(bytes);
    EXPECT_TRUE(headers.ok()) << headers.status().ToString();
    std::size_t pos = 0;
    for (const auto& h : headers.value()) {
      std::vector<kafka::Record> records;
      const std::string_view batch = std::string_view(bytes).substr(pos, h.size_in_bytes());
      pos += static_cast<std::size_t>(h.size_in_bytes());
      EXPECT_TRUE(kafka::DecodeRecords(batch.substr(kafka::kRecordBatchHeaderSize),
                                       h.records_count, &records)
                      .ok());
      for (const auto& r : records) {
        Stored s;
        if (r.key) s.key = std::string(*r.key);
        if (r.value) s.value = std::string(*r.value);
        out.push_back(std::move(s));
      }
    }
    return out;
  }

  TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<Topics> topics_;
  std::unique_ptr<GroupCommit> group_commit_;
  std::unique_ptr<GroupCoordinator> coordinator_;
};

TEST_F(OffsetStoreTest, CreatesACompactedTopicOnce) {
  const Topic* topic = topics_->Find(kOffsetsTopic);
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->partitions.size(), static_cast<std::size_t>(kPartitions));
  EXPECT_TRUE(topic->internal);
  EXPECT_EQ(topic->configs.at("cleanup.policy"), "compact");
  EXPECT_EQ(store().partitions(), kPartitions);

  // A later start with another configured count keeps the topic as it is.
  Close();
  Open(50);
  EXPECT_EQ(topics_->Find(kOffsetsTopic)->partitions.size(), static_cast<std::size_t>(kPartitions));
  EXPECT_EQ(store().partitions(), kPartitions);
}

TEST_F(OffsetStoreTest, CommitsAreRecordsInKafkasFormatInTheGroupsPartition) {
  ASSERT_TRUE(Write("g1", {{"orders", 0, Value(10, "meta")}, {"orders", 1, Value(20)}}).ok());
  const std::int32_t partition = PartitionForGroup("g1", kPartitions);
  const auto records = Records(partition);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, EncodeOffsetCommitKey("g1", "orders", 0));
  EXPECT_EQ(records[0].value, EncodeOffsetCommitValue(Value(10, "meta")));
  EXPECT_EQ(records[1].key, EncodeOffsetCommitKey("g1", "orders", 1));
  for (std::int32_t p = 0; p < kPartitions; ++p) {
    if (p != partition) {
      EXPECT_TRUE(Records(p).empty()) << p;
    }
  }
  ASSERT_NE(store().Find("g1", "orders", 0), nullptr);
  EXPECT_EQ(*store().Find("g1", "orders", 0), Value(10, "meta"));
  EXPECT_EQ(store().Find("g1", "orders", 2), nullptr);
  EXPECT_EQ(store().Find("other", "orders", 0), nullptr);
}

TEST_F(OffsetStoreTest, TheMapIsRebuiltFromTheTopic) {
  ASSERT_TRUE(Write("g1", {{"orders", 0, Value(10)}, {"orders", 1, Value(11)}}).ok());
  ASSERT_TRUE(Write("g2", {{"payments", 3, Value(7, "x")}}).ok());
  ASSERT_TRUE(Write("g1", {{"orders", 0, Value(15)}}).ok());      // a later commit wins
  ASSERT_TRUE(Write("g1", {{"orders", 1, std::nullopt}}).ok());   // a tombstone removes
  ASSERT_TRUE(Write("gone", {{"t", 0, Value(1)}}).ok());
  ASSERT_TRUE(Write("gone", {{"t", 0, std::nullopt}}, true).ok());
  const auto before = store().groups();

  Reopen();
  EXPECT_EQ(store().groups(), before);
  ASSERT_NE(store().Find("g1", "orders", 0), nullptr);
  EXPECT_EQ(store().Find("g1", "orders", 0)->offset, 15);
  EXPECT_EQ(store().Find("g1", "orders", 1), nullptr);
  EXPECT_EQ(store().Find("g2", "payments", 3)->metadata, "x");
  EXPECT_EQ(store().Find("gone"), nullptr);
  EXPECT_EQ(store().offset_count(), 2u);
}

TEST_F(OffsetStoreTest, ForeignAndUndecodableRecordsAreSkippedOnLoad) {
  ASSERT_TRUE(Write("g1", {{"orders", 0, Value(10)}}).ok());
  const std::int32_t partition = PartitionForGroup("g1", kPartitions);
  auto log = topics_->Log(kOffsetsTopic, partition);
  // A group metadata record, a record of a newer key version, a value of an unknown version,
  // a keyless record, and a value version 4 Kafka 4.x writes.
  const std::vector<kafka::RecordToBuild> records = {
      {.key = EncodeGroupMetadataKey("g1"), .value = std::string("\x00\x03junk", 6),
       .headers = {}, .timestamp = kNow},
      {.key = std::string("\x00\x05", 2), .value = std::string("x"), .headers = {},
       .timestamp = kNow},
      {.key = EncodeOffsetCommitKey("g1", "orders", 1), .value = std::string("\x00\x09", 2),
       .headers = {}, .timestamp = kNow},
      {.key = std::nullopt, .value = std::string("v"), .headers = {}, .timestamp = kNow},
      {.key = EncodeOffsetCommitKey("g1", "orders", 2),
       .value = EncodeOffsetCommitValueV4(Value(33)), .headers = {}, .timestamp = kNow},
  };
  ASSERT_TRUE(log->Append(kafka::BuildRecordBatch(records)).ok());
  Reopen();
  EXPECT_EQ(store().Find("g1", "orders", 0)->offset, 10);
  EXPECT_EQ(store().Find("g1", "orders", 1), nullptr);
  ASSERT_NE(store().Find("g1", "orders", 2), nullptr);
  EXPECT_EQ(store().Find("g1", "orders", 2)->offset, 33);
}

TEST_F(OffsetStoreTest, ManyChangesSplitIntoBatchesWithinMaxMessageBytes) {
  std::vector<OffsetChange> changes;
  for (int p = 0; p < 600; ++p) changes.push_back({"big", p, Value(p, std::string(4000, 'm'))});
  ASSERT_TRUE(Write("g1", changes).ok());
  EXPECT_EQ(store().Find("g1")->at("big").size(), 600u);
  Reopen();
  EXPECT_EQ(store().Find("g1")->at("big").size(), 600u);
  EXPECT_EQ(store().Find("g1", "big", 599)->offset, 599);
}

TEST_F(OffsetStoreTest, CommitValidationForGroupsWithoutMembers) {
  GroupCoordinator& c = *coordinator_;
  using E = kafka::ErrorCode;
  // A group that does not exist: generation -1 creates it; a generation is refused.
  EXPECT_EQ(c.ValidateOffsetCommit("new", -1, "", std::nullopt, 8), E::kNone);
  EXPECT_EQ(c.ValidateOffsetCommit("new", 3, "m-1", std::nullopt, 8), E::kIllegalGeneration);
  EXPECT_EQ(c.ValidateOffsetCommit("new", 3, "m-1", std::nullopt, 9), E::kGroupIdNotFound);
  // An empty group: generation -1 whatever the ids, otherwise no such member.
  ASSERT_TRUE(Write("empty", {{"t", 0, Value(1)}}).ok());
  EXPECT_EQ(c.ValidateOffsetCommit("empty", -1, "", std::nullopt, 2), E::kNone);
  EXPECT_EQ(c.ValidateOffsetCommit("empty", -1, "m-1", std::string("i-1"), 9), E::kNone);
  EXPECT_EQ(c.ValidateOffsetCommit("empty", 0, "", std::nullopt, 9), E::kUnknownMemberId);
  EXPECT_EQ(c.ValidateOffsetCommit("empty", 5, "m-1", std::nullopt, 7), E::kUnknownMemberId);

  EXPECT_EQ(c.StateOf("empty"), GroupState::kEmpty);
  EXPECT_EQ(c.StateOf("new"), GroupState::kDead);
  EXPECT_EQ(c.Groups(), std::vector<std::string>{"empty"});
}

TEST_F(OffsetStoreTest, MetadataLimitCountsJavaCharacters) {
  GroupCoordinator& c = *coordinator_;
  EXPECT_TRUE(c.MetadataFits(std::nullopt));
  EXPECT_TRUE(c.MetadataFits(std::string(4096, 'a')));
  EXPECT_FALSE(c.MetadataFits(std::string(4097, 'a')));
  std::string wide;
  for (int i = 0; i < 4096; ++i) wide += "\xc3\xbc";  // 8192 bytes, 4096 characters
  EXPECT_TRUE(c.MetadataFits(wide));
  EXPECT_FALSE(c.MetadataFits(wide + "a"));
}

TEST_F(OffsetStoreTest, DeleteGroupWritesTombstonesForEveryOffset) {
  ASSERT_TRUE(Write("g1", {{"a", 0, Value(1)}, {"a", 1, Value(2)}, {"b", 0, Value(3)}}).ok());
  EXPECT_EQ(Run(coordinator_->DeleteGroup("g1")), kafka::ErrorCode::kNone);
  EXPECT_EQ(store().Find("g1"), nullptr);
  EXPECT_EQ(Run(coordinator_->DeleteGroup("g1")), kafka::ErrorCode::kGroupIdNotFound);

  const auto records = Records(PartitionForGroup("g1", kPartitions));
  ASSERT_EQ(records.size(), 7u);  // 3 commits, 3 tombstones, the group's tombstone
  for (std::size_t i = 3; i < 7; ++i) EXPECT_FALSE(records[i].value.has_value()) << i;
  EXPECT_EQ(records[6].key, EncodeGroupMetadataKey("g1"));
  Reopen();
  EXPECT_EQ(store().Find("g1"), nullptr);
}

TEST_F(OffsetStoreTest, TheOffsetsOfADeletedTopicAreRemovedFromEveryGroup) {
  ASSERT_TRUE(Write("g1", {{"a", 0, Value(1)}, {"a", 1, Value(2)}, {"b", 0, Value(3)}}).ok());
  ASSERT_TRUE(Write("g2", {{"a", 3, Value(4)}}).ok());
  EXPECT_EQ(Run(coordinator_->DeleteTopicOffsets("a")), 3u);
  EXPECT_EQ(store().Find("g2"), nullptr);
  ASSERT_NE(store().Find("g1"), nullptr);
  EXPECT_EQ(store().Find("g1")->size(), 1u);
  EXPECT_NE(store().Find("g1", "b", 0), nullptr);
  EXPECT_EQ(Run(coordinator_->DeleteTopicOffsets("a")), 0u);
  Reopen();
  EXPECT_EQ(store().Find("g2"), nullptr);
  EXPECT_EQ(store().offset_count(), 1u);
}

TEST_F(OffsetStoreTest, OffsetsExpireAfterTheRetentionOfTheirCommit) {
  const std::int64_t retention = GroupCoordinatorConfig{}.offsets_retention_ms;
  const std::int64_t now = kNow + retention;
  OffsetCommitValue own_expiry = Value(5, "", now);  // committed now, but asked to expire then
  own_expiry.expire_timestamp_ms = now;
  ASSERT_TRUE(Write("old", {{"t", 0, Value(1, "", kNow)}, {"t", 1, Value(2, "", kNow + 1)}}).ok());
  ASSERT_TRUE(Write("mixed", {{"t", 0, Value(1, "", kNow)}, {"t", 1, Value(2, "", now)}}).ok());
  ASSERT_TRUE(Write("own", {{"t", 0, own_expiry}}).ok());

  EXPECT_EQ(Run(coordinator_->ExpireOffsets(now)), 3u);
  EXPECT_EQ(store().Find("old", "t", 0), nullptr);
  EXPECT_NE(store().Find("old", "t", 1), nullptr);  // 1 ms younger
  EXPECT_EQ(store().Find("mixed", "t", 0), nullptr);
  EXPECT_NE(store().Find("mixed", "t", 1), nullptr);
  EXPECT_EQ(store().Find("own"), nullptr);

  EXPECT_EQ(Run(coordinator_->ExpireOffsets(now + 1)), 1u);
  EXPECT_EQ(store().Find("old"), nullptr);
  Reopen();
  EXPECT_EQ(store().Find("old"), nullptr);
  EXPECT_EQ(store().Find("own"), nullptr);
  EXPECT_NE(store().Find("mixed", "t", 1), nullptr);
}

TEST_F(OffsetStoreTest, WithoutFsyncWaitsWritesApplyAtOnce) {
  Close();
  topics_ = std::make_unique<Topics>(dir_.path(), BrokerLogDefaults{});
  ASSERT_TRUE(topics_->Load().ok());
  group_commit_ = std::make_unique<GroupCommit>(io_.get_executor(),
                                                GroupCommit::Options{.sync_threads = 1});
  OffsetStoreOptions options;
  options.partitions = kPartitions;
  options.wait_for_fsync = false;
  auto opened = OffsetStore::Open(*topics_, *group_commit_, options);
  ASSERT_TRUE(opened.ok());
  coordinator_ = std::make_unique<GroupCoordinator>(std::move(opened).value(),
                                                    GroupCoordinatorConfig{}, *topics_,
                                                    io_.get_executor());
  ASSERT_TRUE(Write("g1", {{"t", 0, Value(9)}}).ok());
  EXPECT_EQ(store().Find("g1", "t", 0)->offset, 9);
}

}  // namespace
}  // namespace tern::broker::group
