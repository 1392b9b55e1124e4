// Segment: one file of a partition's log and its two indexes — <base>.log (record batches as
// received, base offsets stamped), <base>.index and <base>.timeindex, where <base> is the first
// offset the segment may hold, zero-padded to 20 digits. Only the newest segment of a log is
// appended to; older ones are read and eventually deleted. Recovery (Recover) validates the
// log, truncates a torn tail of the last segment and rebuilds indexes; everything else trusts
// what Append wrote.
//
// Owned by a PartitionLog through shared_ptr: readers keep a segment (and its open file) alive
// in FileRange::keep_alive after the log drops it. The PartitionLog's mutex serialises every
// call except SyncLog, which may run concurrently with the others.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "broker/storage/file.h"
#include "broker/storage/offset_index.h"
#include "broker/storage/time_index.h"
#include "common/result.h"
#include "common/status.h"
#include "kafka/record_batch.h"

namespace tern::broker::storage {

// "<dir>/<base zero-padded to 20 digits><extension>".
std::string SegmentPath(const std::string& dir, std::int64_t base_offset,
                        std::string_view extension);

struct TimestampOffset {
  std::int64_t offset = -1;
  std::int64_t timestamp = -1;
  friend bool operator==(const TimestampOffset&, const TimestampOffset&) = default;
};

class Segment {
 public:
  struct RecoverOptions {
    // Load the index files instead of scanning the whole log (after a clean shutdown).
    // Missing or inconsistent indexes still fall back to a scan.
    bool trust_indexes = false;
    // The newest segment: a torn tail (invalid bytes up to the end, no valid batch in them)
    // is cut off. In any other segment, or with valid batches after it, an invalid batch is
    // Corruption.
    bool is_last = false;
    // The first batch must start at or after this offset (the previous segment's end).
    std::int64_t min_base_offset = 0;
    std::int32_t index_interval_bytes = 4096;
    std::int64_t now_ms = 0;
  };

  // A contiguous run of whole batches inside this segment's log.
  struct Slice {
    std::int64_t position = 0;
    std::int64_t length = 0;
    std::int64_t first_offset = -1;  // base offset of the first batch
    std::int64_t next_offset = -1;   // one past the last batch's last offset
    bool stopped = false;  // the byte budget or the upper bound ended it, not the segment's end
  };

  // Creates empty files for a new segment (replacing any stale ones). A non-empty `suffix` is
  // added to every file name (the compactor writes "<base>.log.cleaned" and so on; see Install).
  static Result<std::shared_ptr<Segment>> Create(const std::string& dir, std::int64_t base_offset,
                                                 std::string_view suffix = "");
  // Opens an existing segment, validating it as `options` says. Corruption names the file and
  // byte position of the first invalid batch.
  static Result<std::shared_ptr<Segment>> Recover(const std::string& dir, std::int64_t base_offset,
                                                  const RecoverOptions& options);

  // Appends `batches`, already stamped with offsets from next_offset() on; `headers` are their
  // parsed (stamped) headers. Updates the indexes. No fsync. On failure the segment may hold a
  // partial write; the caller stops appending to it.
  Status Append(std::string_view batches, const std::vector<kafka::RecordBatchHeader>& headers,
                std::int32_t index_interval_bytes, std::int64_t now_ms);
  // The same, with the batches' bytes given as pieces written one after another.
  Status Append(std::span<const std::string_view> pieces,
                const std::vector<kafka::RecordBatchHeader>& headers,
                std::int32_t index_interval_bytes, std::int64_t now_ms);

  // Whole batches from the one holding `offset` on, in at most `max_bytes` (more only for the
  // first batch when `allow_oversized_first`), none reaching `upper_bound`.
  Result<Slice> Read(std::int64_t offset, std::int64_t max_bytes, bool allow_oversized_first,
                     std::int64_t upper_bound) const;
  // The first batch at or after `min_offset` whose max timestamp is at least `timestamp`.
  Result<std::optional<TimestampOffset>> FindTimestamp(std::int64_t timestamp,
                                                       std::int64_t min_offset) const;

  // Calls `fn` with each batch's header and whole bytes, front to back, stopping at the first
  // error `fn` returns. Only the header and framing are checked. REQUIRES: the segment is no
  // longer appended to; then any thread may call it, without the PartitionLog's mutex.
  Status ForEachBatch(
      const std::function<Status(const kafka::RecordBatchHeader&, std::string_view)>& fn) const;
  // Calls `fn` with the header of each batch whose base offset is at least `from_offset`, front
  // to back, reading little more than the headers; stops at the first error `fn` returns. Only
  // the header and framing are checked. For a control batch (a transaction marker) `fn` also
  // gets the whole batch, otherwise an empty view. Recovery uses it to rebuild producer state.
  Status ForEachHeader(
      std::int64_t from_offset,
      const std::function<Status(const kafka::RecordBatchHeader&, std::string_view)>& fn) const;

  Status SyncLog();                 // fdatasync of the .log; any thread
  Status Seal();                    // writes the final time-index entry
  Status SyncAll();                 // SyncLog and both indexes
  Status RenameForDeletion();       // <name> -> <name>.deleted, files stay open
  // <name><suffix> -> <name> for the files made by Create(..., suffix): each rename replaces
  // the file of that name atomically. Files stay open.
  Status Install(std::string_view suffix);
  Status RemoveFiles();             // unlinks the files wherever they now are

  std::int64_t base_offset() const { return base_offset_; }
  std::int64_t next_offset() const { return next_offset_; }
  std::int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Largest batch max timestamp (-1 when empty) and the base offset of its batch.
  std::int64_t max_timestamp() const { return max_timestamp_; }
  std::int64_t max_timestamp_offset() const { return max_timestamp_offset_; }
  // When the segment's age for segment.ms starts: the clock at its first append, or for a
  // recovered segment its first batch's max timestamp (never later than the clock at recovery).
  std::optional<std::int64_t> roll_base_ms() const { return roll_base_ms_; }
  int fd() const { return log_->fd(); }
  const std::string& log_path() const { return log_->path(); }

 private:
  Segment(std::int64_t base_offset, std::unique_ptr<File> log)
      : base_offset_(base_offset), log_(std::move(log)) {}

  Status LoadIndexes(const RecoverOptions& options);
  Status ScanAndRebuild(const RecoverOptions& options);
  void Track(const kafka::RecordBatchHeader& header, std::int64_t position,
             std::int32_t index_interval_bytes);
  Status FlushIndexes();

  const std::int64_t base_offset_;
  std::unique_ptr<File> log_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;
  std::int64_t next_offset_ = base_offset_;
  std::int64_t size_ = 0;
  std::int64_t max_timestamp_ = -1;
  std::int64_t max_timestamp_offset_ = -1;
  std::optional<std::int64_t> roll_base_ms_;
  std::int64_t bytes_since_offset_entry_ = 0;
  std::int64_t bytes_since_time_entry_ = 0;
};

}  // namespace tern::broker::storage
