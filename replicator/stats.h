// What the engine tells the outside (metrics, the gRPC API, logs): counters as plain atomics,
// written by the replication threads and read by anyone, plus a per-partition snapshot the
// copy loop publishes at every commit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace tern::replicator {

// Replication latency (target acknowledgement time minus the record's timestamp), in fixed
// buckets; lock-free to observe.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBoundsSeconds = {
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  void Observe(double seconds) {
    std::size_t i = 0;
    while (i < kBoundsSeconds.size() && seconds > kBoundsSeconds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::int64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
  // Count in bucket i (not cumulative); i == size() is the +Inf overflow.
  std::int64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double sum_seconds() const {
    return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  }

 private:
  std::array<std::atomic<std::int64_t>, kBoundsSeconds.size() + 1> buckets_{};
  std::atomic<std::int64_t> sum_micros_{0};
};

struct PartitionStatus {
  std::string source_topic;
  std::int32_t partition = 0;
  std::string target_topic;
  std::int64_t source_end = -1;        // the source's high watermark as last seen; -1 unknown
  std::int64_t replicated = -1;        // next source offset to copy (committed progress)
  std::int64_t last_timestamp_ms = -1; // timestamp of the last copied record
};

struct EngineStats {
  std::atomic<std::int64_t> records_copied{0};
  std::atomic<std::int64_t> bytes_copied{0};          // keys + values as consumed
  std::atomic<std::int64_t> records_skipped_loop{0};  // came from the target (provenance)
  // Records deleted by source retention before they were copied: a gap on the target.
  std::atomic<std::int64_t> records_lost{0};
  // A source partition whose end went below the replicated progress (topic re-created or
  // truncated at the source).
  std::atomic<std::int64_t> source_resets{0};
  std::atomic<std::int64_t> commits{0};        // transactions (or progress commits) done
  std::atomic<std::int64_t> last_commit_ms{0};  // wall clock of the last commit
  std::atomic<std::int64_t> restarts{0};       // copy loop restarts after an error
  std::atomic<std::int64_t> group_offsets_committed{0};
  std::atomic<std::int64_t> group_sync_failures{0};
  std::atomic<std::int64_t> checkpoints_written{0};
  std::atomic<std::int64_t> offset_sync_failures{0};
  std::atomic<bool> copying{false};            // the copy loop is running
  LatencyHistogram latency;

  void PublishPartitions(std::vector<PartitionStatus> partitions) {
    std::lock_guard lock(mu_);
    partitions_ = std::move(partitions);
  }
  std::vector<PartitionStatus> Partitions() const {
    std::lock_guard lock(mu_);
    return partitions_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<PartitionStatus> partitions_;
};

}  // namespace tern::replicator
