#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <string>
#include <string_view>
#include <thread>
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

std::atomic<int> signals_in_append{0};
std::atomic<bool> in_append{false};

void CountSignal(int) {
  if (in_append.load()) signals_in_append.fetch_add(1);
}

// Regular files do not write short here, so the pieces go to a FIFO that a slow reader drains:
// a signal (no SA_RESTART) that reaches the writer while it waits for room ends its writev
// early, after part of a piece, or with EINTR when nothing was written yet. Append must go on
// from the byte where the kernel stopped.
TEST(FileTest, WritesCutShortBySignalsResumeWhereTheyStopped) {
  TempDir dir;
  const std::string path = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto file = File::Open(path, /*create=*/false).value();  // read-write: opens at once

  std::vector<std::string> owned;
  std::string expected;
  for (int i = 0; i < IOV_MAX * 2; ++i) {  // about 2 MiB, 30 times the pipe's 64 KiB
    owned.push_back(std::string(static_cast<std::size_t>(i * 37 % 2000),
                                static_cast<char>('a' + i % 26)));
    expected += owned.back();
  }
  const std::vector<std::string_view> pieces(owned.begin(), owned.end());

  struct sigaction count {};
  count.sa_handler = CountSignal;
  sigemptyset(&count.sa_mask);
  count.sa_flags = 0;
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGUSR1, &count, &before), 0);
  signals_in_append = 0;

  std::string got;
  std::thread reader([&] {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char buf[4096];
    while (got.size() < expected.size()) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ::close(fd);
  });
  std::atomic<bool> done{false};
  Status appended = Status::Ok();
  std::thread writer([&] {
    in_append = true;
    appended = file->Append(pieces);
    in_append = false;
    done = true;
  });
  while (!done.load()) {
    ::pthread_kill(writer.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  writer.join();
  reader.join();
  ::sigaction(SIGUSR1, &before, nullptr);

  EXPECT_TRUE(appended.ok()) << appended.ToString();
  EXPECT_GE(signals_in_append.load(), 10);  // the writer was cut short many times
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);  // every byte once, in order
}

}  // namespace
}  // namespace tern::broker::storage
