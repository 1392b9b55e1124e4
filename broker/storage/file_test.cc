#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <string_view>
#include <vector>

#include "broker/storage/file.h"
#include "broker/storage/test_util.h"

namespace tern::broker::storage {
namespace {

using testing_util::TempDir;

std::string ReadAll(const File& file) {
  std::string out(static_cast<std::size_t>(file.Size().value()), '\0');
  EXPECT_TRUE(file.ReadAt(0, out.size(), out.data()).ok());
  return out;
}

TEST(FileTest, PiecesAreAppendedInOrderAfterWhatIsThere) {
  TempDir dir;
  auto file = File::Open(dir.path() + "/f", /*create=*/true).value();
  ASSERT_TRUE(file->Append(std::string_view("head-")).ok());
  const std::vector<std::string_view> pieces{"one", "", "two", "", "three"};
  ASSERT_TRUE(file->Append(pieces).ok());
  EXPECT_EQ(ReadAll(*file), "head-onetwothree");
}

TEST(FileTest, MorePiecesThanOneWritevTakesAreAllWritten) {
  TempDir dir;
  auto file = File::Open(dir.path() + "/f", /*create=*/true).value();
  // 2.5 times IOV_MAX pieces of different sizes, some empty.
  std::vector<std::string> owned;
  std::string expected;
  for (int i = 0; i < IOV_MAX * 5 / 2; ++i) {
    owned.push_back(std::string(static_cast<std::size_t>(i % 7), static_cast<char>('a' + i % 26)));
    expected += owned.back();
  }
  const std::vector<std::string_view> pieces(owned.begin(), owned.end());
  ASSERT_TRUE(file->Append(pieces).ok());
  EXPECT_EQ(ReadAll(*file), expected);
}

TEST(FileTest, NoPiecesWriteNothing) {
  TempDir dir;
  auto file = File::Open(dir.path() + "/f", /*create=*/true).value();
  ASSERT_TRUE(file->Append(std::vector<std::string_view>{}).ok());
  ASSERT_TRUE(file->Append(std::vector<std::string_view>{"", ""}).ok());
  EXPECT_EQ(file->Size().value(), 0);
}

}  // namespace
}  // namespace tern::broker::storage
