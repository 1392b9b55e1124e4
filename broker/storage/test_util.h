// Helpers shared by the storage tests: a temporary directory, a settable clock and record
// batches made with kafka::BuildRecordBatch.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker/storage/log_config.h"
#include "broker/storage/partition_log.h"
#include "kafka/record_batch.h"
#include "kafka/record_batch_builder.h"

namespace tern::broker::storage::testing_util {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "tern-storage-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class FakeClock {
 public:
  explicit FakeClock(std::int64_t start_ms = 1'700'000'000'000)
      : now_(std::make_shared<std::atomic<std::int64_t>>(start_ms)) {}
  Clock clock() const {
    return [now = now_] { return now->load(); };
  }
  std::int64_t now() const { return now_->load(); }
  void Advance(std::int64_t ms) { *now_ += ms; }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> now_;
};

// A batch of `records` records, each with a value of `value_size` bytes, timestamps from
// `timestamp` on.
inline std::string MakeBatch(int records, std::int64_t timestamp, std::size_t value_size = 16) {
  std::vector<kafka::RecordToBuild> list;
  for (int i = 0; i < records; ++i) {
    list.push_back({.key = "key-" + std::to_string(i),
                    .value = std::string(value_size, static_cast<char>('a' + i % 26)),
                    .headers = {},
                    .timestamp = timestamp + i});
  }
  return kafka::BuildRecordBatch(list);
}

// The bytes the ranges of `result` point at.
inline std::string ReadRanges(const ReadResult& result) {
  std::string out;
  for (const kafka::FileRange& range : result.ranges) {
    std::string part(static_cast<std::size_t>(range.length), '\0');
    EXPECT_EQ(::pread(range.fd, part.data(), part.size(), range.position),
              static_cast<ssize_t>(part.size()));
    out += part;
  }
  return out;
}

inline std::vector<kafka::RecordBatchHeader> Headers(std::string_view bytes) {
  Result<std::vector<kafka::RecordBatchHeader>> headers = kafka::ValidateRecordBatches(bytes);
  EXPECT_TRUE(headers.ok()) << headers.status().ToString();
  return headers.ok() ? headers.value() : std::vector<kafka::RecordBatchHeader>{};
}

inline std::string WithBaseOffset(std::string batch, std::int64_t base_offset) {
  kafka::StampBaseOffset(batch.data(), base_offset);
  return batch;
}

inline std::unique_ptr<PartitionLog> OpenOrDie(const std::string& dir, const LogConfig& config,
                                               const FakeClock& clock) {
  Result<std::unique_ptr<PartitionLog>> log = PartitionLog::Open(dir, config, clock.clock());
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log.value()) : nullptr;
}

}  // namespace tern::broker::storage::testing_util
