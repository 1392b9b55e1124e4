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

// Durations in fixed buckets (seconds, upper bounds); lock-free to observe.
class DurationHistogram {
 public:
  using Bounds = std::array<double, 14>;
  // Replication latency: target acknowledgement time minus the record's timestamp.
  static constexpr Bounds kLatencyBounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,     2.5,  5,     10,   30,  60};
  // Work the copy loop waits for: a commit, a store write.
  static constexpr Bounds kWaitBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  explicit DurationHistogram(const Bounds& bounds) : bounds_(bounds) {}

  void Observe(double seconds) {
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::int64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
  const Bounds& bounds() const { return bounds_; }
  // Count in bucket i (not cumulative); i == bounds().size() is the +Inf overflow.
  std::int64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double sum_seconds() const {
    return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  }

 private:
  const Bounds& bounds_;
  std::array<std::atomic<std::int64_t>, std::tuple_size_v<Bounds> + 1> buckets_{};
  std::atomic<std::int64_t> sum_micros_{0};
};

// An error worth showing an operator, and when it happened (wall clock, ms; 0 = none).
struct ErrorNote {
  std::string message;
  std::int64_t time_ms = 0;
};

// A cluster as the engine's reachability probe last saw it.
struct ClusterHealth {
  bool reachable = false;
  std::int64_t last_contact_ms = 0;  // last successful metadata request; 0 = never
  ErrorNote last_error;
};

// One partition of a group's committed offsets at the source and where it is on the target.
struct GroupOffset {
  std::string source_topic;
  std::int32_t partition = 0;
  std::int64_t source_offset = -1;
  std::string target_topic;
  std::int64_t target_offset = -1;  // -1: not replicated yet
};

// A consumer group as group sync last handled it.
struct GroupStatus {
  std::string group;
  std::vector<GroupOffset> offsets;
  bool committed_on_target = false;  // false while the group has members on the target
  std::int64_t last_sync_ms = 0;
  ErrorNote last_error;
};

struct PartitionStatus {
  std::string source_topic;
  std::int32_t partition = 0;
  std::string target_topic;
  std::int64_t source_end = -1;        // the source's high watermark as last seen; -1 unknown
  std::int64_t replicated = -1;        // next source offset to copy (committed progress)
  std::int64_t last_timestamp_ms = -1; // timestamp of the last copied record
  ErrorNote last_error;                // e.g. records lost to retention, a failed delivery
};

// Records not yet replicated, and an approximation of how far behind that is in time: the age
// of the newest copied record while anything is still to copy (0 when caught up, -1 unknown).
inline std::int64_t LagRecords(const PartitionStatus& p) {
  if (p.source_end < 0 || p.replicated < 0) return -1;
  return p.source_end > p.replicated ? p.source_end - p.replicated : 0;
}
inline double LagSeconds(const PartitionStatus& p, std::int64_t now_ms) {
  const std::int64_t records = LagRecords(p);
  if (records < 0) return -1;
  if (records == 0) return 0;
  if (p.last_timestamp_ms <= 0) return -1;
  return now_ms > p.last_timestamp_ms ? static_cast<double>(now_ms - p.last_timestamp_ms) / 1000
                                      : 0;
}

enum class ClusterSide { kSource, kTarget };

struct EngineStats {
  std::atomic<std::int64_t> records_copied{0};
  std::atomic<std::int64_t> bytes_copied{0};          // keys + values as consumed
  std::atomic<std::int64_t> records_skipped_loop{0};  // came from the target (provenance)
  // Records deleted by source retention before they were copied: a gap on the target.
  std::atomic<std::int64_t> records_lost{0};
  // A source partition whose end went below the replicated progress (topic re-created or
  // truncated at the source).
  std::atomic<std::int64_t> source_resets{0};
  // A target partition found ending below what the state dir says was copied there (the
  // target lost records): copying went back to the last record it still holds.
  std::atomic<std::int64_t> target_resets{0};
  // Times fetching paused because the target took records slower than the source gave them.
  std::atomic<std::int64_t> fetch_pauses{0};
  // Times the fetcher was woken after the consumer's own queue had filled up (librdkafka 2.0
  // would otherwise wait a second before fetching again).
  std::atomic<std::int64_t> fetch_wakeups{0};
  std::atomic<std::int64_t> commits{0};        // transactions (or progress commits) done
  // Of those, transactions committed before commit_interval_ms because copying had caught up.
  std::atomic<std::int64_t> early_commits{0};
  std::atomic<std::int64_t> last_commit_ms{0};  // wall clock of the last commit
  std::atomic<std::int64_t> restarts{0};       // copy loop restarts after an error
  std::atomic<std::int64_t> group_offsets_committed{0};
  std::atomic<std::int64_t> group_sync_failures{0};
  std::atomic<std::int64_t> checkpoints_written{0};
  std::atomic<std::int64_t> offset_sync_failures{0};
  std::atomic<std::int64_t> discovery_failures{0};
  std::atomic<std::int64_t> heartbeat_failures{0};
  std::atomic<std::int64_t> last_group_sync_ms{0};  // wall clock of the last good group sync
  // Time the clusters asked the copy loop's clients to wait (quotas), in milliseconds.
  std::atomic<std::int64_t> source_throttle_ms{0};
  std::atomic<std::int64_t> target_throttle_ms{0};
  std::atomic<bool> copying{false};            // the copy loop is running
  std::atomic<bool> stopping{false};           // Stop() was called
  std::atomic<std::int64_t> start_ms{0};       // wall clock when the engine started
  DurationHistogram latency{DurationHistogram::kLatencyBounds};
  // How long the copy loop waited for each commit (exactly-once: flush, offset-syncs,
  // progress and the transaction's commit; at-least-once: the progress commit), and for
  // the state dir's part of it.
  DurationHistogram commit_duration{DurationHistogram::kWaitBounds};
  DurationHistogram store_write_duration{DurationHistogram::kWaitBounds};

  void SetCluster(ClusterSide side, ClusterHealth health) {
    std::lock_guard lock(mu_);
    clusters_[side == ClusterSide::kSource ? 0 : 1] = std::move(health);
  }
  ClusterHealth Cluster(ClusterSide side) const {
    std::lock_guard lock(mu_);
    return clusters_[side == ClusterSide::kSource ? 0 : 1];
  }
  // The copy loop's last error (it restarts after it).
  void SetCopyError(ErrorNote error) {
    std::lock_guard lock(mu_);
    copy_error_ = std::move(error);
  }
  ErrorNote CopyError() const {
    std::lock_guard lock(mu_);
    return copy_error_;
  }
  void PublishGroups(std::vector<GroupStatus> groups) {
    std::lock_guard lock(mu_);
    groups_ = std::move(groups);
  }
  std::vector<GroupStatus> Groups() const {
    std::lock_guard lock(mu_);
    return groups_;
  }

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
  std::array<ClusterHealth, 2> clusters_;
  ErrorNote copy_error_;
  std::vector<GroupStatus> groups_;
};

// How old the consumer-group checkpoints on the target may be: seconds since the last group
// sync round that succeeded (every wanted group's offsets read, translated, written and
// acknowledged), counted from start-up until the first one; 0 before the engine starts.
inline double CheckpointAgeSeconds(const EngineStats& s, std::int64_t now_ms) {
  std::int64_t since = s.last_group_sync_ms.load();
  if (since == 0) since = s.start_ms.load();
  if (since == 0 || now_ms <= since) return 0;
  return static_cast<double>(now_ms - since) / 1000;
}

}  // namespace tern::replicator
