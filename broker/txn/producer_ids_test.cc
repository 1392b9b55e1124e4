#include "broker/txn/producer_ids.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace tern::broker::txn {
namespace {

class ProducerIdsTest : public ::testing::Test {
 protected:
  ProducerIdsTest() {
    std::string pattern = ::testing::TempDir() + "tern-producer-ids-XXXXXX";
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  ~ProducerIdsTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<ProducerIdAllocator> Open(std::int64_t block = 10) {
    auto opened = ProducerIdAllocator::Open(dir_, block);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened.value()) : nullptr;
  }
  std::string File() const {
    std::ifstream in(dir_ + "/producer-ids");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void WriteFile(const std::string& text) const { std::ofstream(dir_ + "/producer-ids") << text; }

  std::string dir_;
};

TEST_F(ProducerIdsTest, IdsStartAtZeroAndReserveBlocksAhead) {
  auto ids = Open(10);
  EXPECT_EQ(ids->Next().value(), 0);
  EXPECT_EQ(File(), "10\n");
  for (int i = 1; i < 10; ++i) EXPECT_EQ(ids->Next().value(), i);
  EXPECT_EQ(File(), "10\n");
  EXPECT_EQ(ids->Next().value(), 10);
  EXPECT_EQ(File(), "20\n");
  EXPECT_EQ(ids->reserved_end(), 20);
}

TEST_F(ProducerIdsTest, RestartNeverReissuesAnId) {
  std::set<std::int64_t> issued;
  for (int run = 0; run < 5; ++run) {
    auto ids = Open(10);
    for (int i = 0; i < 7 + run; ++i) {
      const std::int64_t id = ids->Next().value();
      EXPECT_TRUE(issued.insert(id).second) << "id " << id << " issued twice";
    }
  }
  EXPECT_EQ(*issued.begin(), 0);
}

TEST_F(ProducerIdsTest, NoIdIsWrittenBeforeItIsNeeded) {
  auto ids = Open(10);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/producer-ids"));
  EXPECT_EQ(ids->reserved_end(), 0);
}

TEST_F(ProducerIdsTest, UnreadableReservationIsCorruption) {
  for (const char* text : {"", "abc\n", "12", "-5\n", "12\n13\n"}) {
    WriteFile(text);
    auto opened = ProducerIdAllocator::Open(dir_);
    ASSERT_FALSE(opened.ok()) << "'" << text << "'";
    EXPECT_EQ(opened.status().code(), Status::Code::kCorruption);
    EXPECT_NE(opened.status().message().find("producer-ids"), std::string::npos);
  }
}

TEST_F(ProducerIdsTest, FailedReservationHandsOutNothing) {
  auto ids = ProducerIdAllocator::Open(dir_ + "/missing-folder", 10);
  ASSERT_TRUE(ids.ok());
  EXPECT_FALSE(ids.value()->Next().ok());
  std::filesystem::create_directories(dir_ + "/missing-folder");
  EXPECT_EQ(ids.value()->Next().value(), 0);
}

}  // namespace
}  // namespace tern::broker::txn
