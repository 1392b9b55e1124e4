#include <gtest/gtest.h>

#include <string>

#include "common/big_endian.h"
#include "broker/storage/file.h"
#include "broker/storage/offset_index.h"
#include "broker/storage/test_util.h"
#include "broker/storage/time_index.h"

namespace tern::broker::storage {
namespace {

using testing_util::TempDir;

TEST(OffsetIndexTest, LookupReturnsPositionOfLastEntryAtOrBelow) {
  TempDir dir;
  auto index = OffsetIndex::CreateEmpty(dir.path() + "/0.index");
  index->Add({10, 1000});
  index->Add({20, 2000});
  EXPECT_EQ(index->Lookup(0), 0);
  EXPECT_EQ(index->Lookup(9), 0);
  EXPECT_EQ(index->Lookup(10), 1000);
  EXPECT_EQ(index->Lookup(19), 1000);
  EXPECT_EQ(index->Lookup(25), 2000);
}

TEST(OffsetIndexTest, FlushedEntriesLoadBack) {
  TempDir dir;
  const std::string path = dir.path() + "/0.index";
  auto index = OffsetIndex::CreateEmpty(path);
  index->Add({1, 100});
  index->Add({5, 300});
  ASSERT_TRUE(index->Flush().ok());
  Result<std::unique_ptr<OffsetIndex>> loaded = OffsetIndex::Load(path, 400);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded.value()->entries().size(), 2u);
  EXPECT_EQ(loaded.value()->Lookup(6), 300);
}

TEST(OffsetIndexTest, LoadRejectsEntriesPastTheLog) {
  TempDir dir;
  const std::string path = dir.path() + "/0.index";
  auto index = OffsetIndex::CreateEmpty(path);
  index->Add({1, 100});
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(OffsetIndex::Load(path, 100).status().code(), Status::Code::kCorruption);
}

TEST(OffsetIndexTest, LoadRejectsOutOfOrderAndTornEntries) {
  TempDir dir;
  const std::string path = dir.path() + "/0.index";
  std::string bytes;
  StoreBigEndian<std::int32_t>(bytes, 5);
  StoreBigEndian<std::int32_t>(bytes, 500);
  StoreBigEndian<std::int32_t>(bytes, 4);
  StoreBigEndian<std::int32_t>(bytes, 600);
  ASSERT_TRUE(WriteFileDurably(dir.path(), "0.index", bytes).ok());
  EXPECT_EQ(OffsetIndex::Load(path, 1000).status().code(), Status::Code::kCorruption);
  ASSERT_TRUE(WriteFileDurably(dir.path(), "0.index", bytes.substr(0, 11)).ok());
  EXPECT_EQ(OffsetIndex::Load(path, 1000).status().code(), Status::Code::kCorruption);
}

TEST(OffsetIndexTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_EQ(OffsetIndex::Load(dir.path() + "/none.index", 10).status().code(),
            Status::Code::kNotFound);
}

TEST(TimeIndexTest, LastBeforeFindsNewestEntryOlderThanTimestamp) {
  TempDir dir;
  auto index = TimeIndex::CreateEmpty(dir.path() + "/0.timeindex");
  index->MaybeAdd({100, 0});
  index->MaybeAdd({200, 10});
  index->MaybeAdd({150, 20});  // does not raise the maximum: ignored
  index->MaybeAdd({300, 30});
  ASSERT_EQ(index->entries().size(), 3u);
  EXPECT_FALSE(index->LastBefore(100).has_value());
  EXPECT_EQ(index->LastBefore(101)->relative_offset, 0);
  EXPECT_EQ(index->LastBefore(300)->relative_offset, 10);
  EXPECT_EQ(index->LastBefore(1000)->relative_offset, 30);
  EXPECT_EQ(index->last()->timestamp, 300);
}

TEST(TimeIndexTest, LoadRejectsOffsetsPastTheSegmentEnd) {
  TempDir dir;
  const std::string path = dir.path() + "/0.timeindex";
  auto index = TimeIndex::CreateEmpty(path);
  index->MaybeAdd({100, 7});
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_TRUE(TimeIndex::Load(path, 8).ok());
  EXPECT_EQ(TimeIndex::Load(path, 7).status().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace tern::broker::storage
