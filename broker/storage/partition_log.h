// PartitionLog: the durable log of one topic-partition, in Kafka's on-disk layout:
// <data_dir>/<topic>-<partition>/ holding segments (see segment.h), a `log-start-offset` file
// when DeleteRecords moved the start past the first segment, and a `clean-shutdown` marker
// written by Close. Append assigns offsets and writes; Sync makes appended data durable (the
// broker calls it for a group of appends: group commit); Read hands out file ranges for
// sendfile; retention and DeleteRecords remove whole segments from the front; Compact keeps
// the latest record per key (compactor.h).
//
// Each log also keeps the partition's idempotent-producer state (txn/producer_state.h): Append
// checks a client's batches against it and writes them in one step under the log's mutex, so
// concurrent producers cannot slip between the check and the write. The state is saved as a
// snapshot at every roll and on Close (producer_snapshots.h) and rebuilt on Open from the newest
// usable snapshot plus the batch headers after it.
//
// Thread-safe: one internal mutex guards the segment list and counters. Expected callers are a
// network thread (Append, Read, lookups), a flusher thread (Sync, which does not hold the
// mutex while it waits on the disk) and a background thread (ApplyRetention, Compact; a
// compaction pass reads and writes segment files without the mutex and takes it only to swap
// each cleaned segment in).
// Every call returns a Status; after a failed write or fsync the log refuses further appends
// (IoError) until it is reopened, because what reached the disk is then unknown.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/storage/log_config.h"
#include "broker/storage/producer_snapshots.h"
#include "broker/storage/segment.h"
#include "broker/txn/producer_state.h"
#include "common/result.h"
#include "common/status.h"
#include "kafka/wire.h"

namespace tern::broker::storage {

struct AppendResult {
  std::int64_t first_offset = -1;   // base offset given to the first batch
  std::int64_t last_offset = -1;    // last offset of the last batch
  std::int64_t max_timestamp = -1;  // largest batch max timestamp among the appended batches
  // An idempotent producer's retry of a batch already in the log: nothing was written, and the
  // fields above describe the batch as it was first appended (Kafka acknowledges it so).
  bool duplicate = false;
  // Set when the producer-state rules refused the batches (nothing was written):
  // INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER, explained in `error_message`.
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::string error_message;
};

struct ReadResult {
  // Whole batches, in offset order; several ranges when the read spans segments. Each range's
  // keep_alive holds its segment's file open even if the segment is deleted meanwhile.
  std::vector<kafka::FileRange> ranges;
  std::int64_t bytes = 0;
  // One past the last offset returned; the requested offset when nothing was returned.
  std::int64_t next_offset = -1;
};

class PartitionLog {
 public:
  // Opens (creating if needed) the partition directory `dir` and recovers it: with a
  // clean-shutdown marker only the last segment is scanned, otherwise every segment is.
  // A torn tail of the last segment is truncated with a warning. An invalid batch anywhere else
  // (or followed by valid data) fails with Corruption naming the file and byte position: the
  // partition must not be served. Missing or inconsistent indexes are rebuilt. Producer state
  // comes from the newest usable snapshot and the batch headers after it; an unusable or
  // corrupt snapshot is deleted with a warning and an older one (or the log start) used.
  static Result<std::unique_ptr<PartitionLog>> Open(const std::string& dir, const LogConfig& config,
                                                    Clock clock = SystemClockMs);
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Takes effect at the next append, roll or retention pass.
  void SetConfig(const LogConfig& config);
  LogConfig config() const;

  // Appends one or more complete batches (validated by the caller), giving them consecutive
  // offsets from log_end_offset(); the caller's bytes are copied, not modified. Rolls to a new
  // segment first when the active one would pass segment_bytes or is older than segment_ms.
  // Batches with a producer id are first checked against the producer state as a client's
  // (see txn::ProducerStateTable::Check): a retry is answered with `duplicate` and a refusal
  // with `error`, and neither writes anything.
  // No fsync: see Sync. Fails with TooLarge when a batch exceeds max_message_bytes,
  // InvalidArgument/Corruption when the bytes are not whole batches, IoError on a write error.
  // `origin` kCoordinator: the broker's own writes for a transactional producer (offset
  // commits), which carry no sequence numbers.
  Result<AppendResult> Append(std::string_view batches,
                              txn::AppendOrigin origin = txn::AppendOrigin::kClient);

  // Writes a transaction marker (a commit or abort control batch) for the producer, closing
  // its open transaction in this partition; a marker of a producer with no open transaction
  // is written all the same (a coordinator retrying after a crash). Refused with
  // INVALID_PRODUCER_EPOCH in the result when the partition knows a newer epoch. Durable at
  // the next Sync, like any append.
  Result<AppendResult> AppendMarker(std::int64_t producer_id, std::int16_t producer_epoch,
                                    std::int32_t coordinator_epoch, bool committed);

  // The last stable offset for a high watermark `high_watermark`: read_committed consumers
  // read below it. The first offset of the oldest transaction that is open, or whose marker is
  // not yet below the high watermark; the high watermark when there is none.
  std::int64_t LastStableOffset(std::int64_t high_watermark) const;
  // The aborted transactions with records in [from, to), for Fetch at read_committed.
  std::vector<txn::AbortedTxn> AbortedTransactions(std::int64_t from, std::int64_t to) const;

  // fdatasync of everything appended before the call; then durable_end_offset() covers it.
  // Nothing appended, rolled or created since the last Sync: returns at once, no fsync.
  // Safe to call concurrently with every other call; concurrent Syncs run one at a time.
  Status Sync();
  // Bytes appended since the last successful Sync began (what the next Sync will write out).
  std::int64_t unsynced_bytes() const {
    return appended_bytes_.load(std::memory_order_relaxed) -
           synced_bytes_.load(std::memory_order_relaxed);
  }

  // Whole batches from the one containing `offset`, at most `max_bytes` in total (the first
  // batch may exceed it when `min_one_batch`), none reaching `upper_bound_offset` (the high
  // watermark), possibly from several segments. An offset equal to log_end_offset() or at or
  // past the bound gives an empty result. OutOfRange when `offset` is below log_start_offset()
  // or above log_end_offset().
  Result<ReadResult> Read(std::int64_t offset, std::int32_t max_bytes, bool min_one_batch,
                          std::int64_t upper_bound_offset);

  std::int64_t log_start_offset() const;
  std::int64_t log_end_offset() const;  // the next offset Append assigns
  std::int64_t durable_end_offset() const { return durable_end_offset_.load(); }
  std::int64_t size_bytes() const;
  std::size_t segment_count() const;
  const std::string& dir() const { return dir_; }

  // ListOffsets by timestamp: the first batch (at or after the log start) whose max timestamp
  // is at least `timestamp`, as its base offset and that max timestamp; nullopt when none.
  Result<std::optional<TimestampOffset>> OffsetForTimestamp(std::int64_t timestamp);
  // The batch holding the largest timestamp (the earliest such batch); nullopt when empty.
  std::optional<TimestampOffset> MaxTimestampOffset() const;

  // Moves the log start to `offset` (persisted durably) and deletes the segments wholly below
  // it. No-op when `offset` is not past the current start; OutOfRange past log_end_offset().
  Status DeleteRecordsBefore(std::int64_t offset);

  // Deletes old non-active segments by retention_ms (their largest timestamp) and
  // retention_bytes, and those wholly below the log start; removes files of segments deleted at
  // least file_delete_delay_ms ago. Moves the log start to the first remaining segment.
  Status ApplyRetention(std::int64_t now_ms);

  // One compaction pass (cleanup.policy compact or compact,delete; a no-op for delete): in
  // every non-active segment whose records are all older than min_compaction_lag_ms, removes
  // each keyed record that a later record of the same key in those segments supersedes,
  // records without a key, and tombstones delete_retention_ms after the pass that first kept
  // them (see batch_cleaner.h). Offsets never change; a segment left empty is deleted like a
  // retained one (file.delete.delay.ms), unless it is the first. Each cleaned segment replaces its
  // original atomically for Read and Append; readers holding the original's FileRanges keep
  // its file open. Appends and reads continue during the pass; passes run one at a time.
  // Fails with Corruption or InvalidArgument when a batch cannot be decoded (nothing of the
  // failing segment is changed) and IoError on a write error; after a failure while
  // installing a segment the log refuses appends until reopened.
  Status Compact(std::int64_t now_ms);

  // Forgets the producers that have not appended for `expiration_ms` (Kafka's
  // producer.id.expiration.ms); returns how many.
  std::size_t ExpireProducers(std::int64_t now_ms, std::int64_t expiration_ms);
  // A copy of the producer state, for inspection.
  txn::ProducerStateTable producer_state() const;

  // Syncs everything, writes a producer snapshot at the log end and the clean-shutdown marker.
  // Later calls fail with Unavailable.
  Status Close();
  // Removes the partition directory (DeleteTopics). Later calls fail with Unavailable.
  Status Delete();

 private:
  struct PendingDeletion {
    std::int64_t deleted_at_ms;
    std::shared_ptr<Segment> segment;
  };

  PartitionLog(std::string dir, const LogConfig& config, Clock clock)
      : dir_(std::move(dir)), config_(config), clock_(std::move(clock)) {}

  Status Recover();
  // Rolls when needed, stamps base offsets from next_offset_ and writes `batches`, whose
  // `headers` already carry those offsets. REQUIRES: mu_ held.
  Status WriteBatches(std::string_view batches,
                      const std::vector<kafka::RecordBatchHeader>& headers, std::int64_t now,
                      AppendResult* result);
  Status LoadProducerState(std::int64_t now_ms);
  Status CheckUsable() const;                 // REQUIRES: mu_ held
  Status Roll();                              // REQUIRES: mu_ held
  // Saves the producer state as of the log end; a failure only costs replay time at the next
  // Open, so it is logged, not returned.
  void SnapshotProducers();                   // REQUIRES: mu_ held
  Status RemoveOldestSegment(std::string_view reason);  // REQUIRES: mu_ held
  static bool WhollyBelowStart(const Segment& segment, std::int64_t start);
  Segment& active() const { return *segments_.rbegin()->second; }
  // Installs `cleaned` in place of `original`, or deletes `original` when `cleaned` is empty
  // and another segment precedes it; false (and `cleaned` removed) when `original` is no
  // longer in the log. Takes mu_.
  Result<bool> ReplaceSegment(const std::shared_ptr<Segment>& original,
                              const std::shared_ptr<Segment>& cleaned);

  const std::string dir_;
  mutable std::mutex mu_;
  LogConfig config_;
  const Clock clock_;
  std::map<std::int64_t, std::shared_ptr<Segment>> segments_;  // by base offset; never empty
  std::int64_t log_start_offset_ = 0;
  std::int64_t next_offset_ = 0;
  std::int64_t size_bytes_ = 0;
  std::vector<std::shared_ptr<Segment>> unsynced_;  // rolled since the last Sync
  bool directory_dirty_ = false;  // segment files created or renamed since the last Sync
  std::vector<PendingDeletion> pending_deletions_;
  txn::ProducerStateTable producers_;
  // Transactions whose marker is written but may not yet be below the high watermark:
  // (marker offset, first offset), in marker order. Pruned by LastStableOffset.
  mutable std::deque<std::pair<std::int64_t, std::int64_t>> completing_;
  ProducerSnapshots snapshots_{dir_};
  bool closed_ = false;
  bool failed_ = false;  // a write or fsync failed; appends are refused

  std::mutex compact_mu_;  // one compaction pass at a time; taken before mu_
  std::mutex sync_mu_;  // one Sync at a time, so durable_end_offset_ never overstates
  std::atomic<std::int64_t> durable_end_offset_{0};
  // Bytes ever appended, and the count a completed Sync covered; for unsynced_bytes().
  std::atomic<std::int64_t> appended_bytes_{0};
  std::atomic<std::int64_t> synced_bytes_{0};
};

}  // namespace tern::broker::storage
