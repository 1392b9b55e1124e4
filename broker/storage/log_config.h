// LogConfig: the per-partition settings of the segment log, named after Kafka's topic configs
// so operators recognise them. A PartitionLog takes a copy at Open and a new one through
// SetConfig (topic configs can be altered at runtime); every field may change at runtime and
// takes effect at the next append, roll or retention pass. Plain value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace tern::broker::storage {

// cleanup.policy: "delete", "compact", or both ("compact,delete").
enum class CleanupPolicy { kDelete, kCompact, kCompactAndDelete };

struct LogConfig {
  // segment.bytes: the active segment is rolled before an append that would make it larger
  // than this. Bytes. Default 1 GiB; capped at 2^31-1 because index positions are int32.
  std::int64_t segment_bytes = 1024 * 1024 * 1024;

  // segment.ms: the active segment is rolled before an append once it is this old, counted
  // from its first batch (see Segment::roll_base_ms). Milliseconds. Default 7 days.
  std::int64_t segment_ms = 7LL * 24 * 60 * 60 * 1000;

  // retention.ms: ApplyRetention deletes a whole non-active segment once its largest batch
  // timestamp is older than this. Milliseconds; -1 keeps data forever. Default 7 days.
  std::int64_t retention_ms = 7LL * 24 * 60 * 60 * 1000;

  // retention.bytes: ApplyRetention deletes the oldest non-active segments while the log
  // would still hold at least this many bytes without them. Bytes; -1 = no limit (default).
  std::int64_t retention_bytes = -1;

  // max.message.bytes: the largest record batch Append accepts (Status::TooLarge beyond it,
  // answered as MESSAGE_TOO_LARGE). Bytes. Default 1048588, Kafka's.
  std::int32_t max_message_bytes = 1048588;

  // index.interval.bytes: an offset-index entry is added once this many log bytes have been
  // appended since the previous one; the same spacing applies to time-index entries. Smaller
  // is faster lookups and bigger index files. Bytes. Default 4096.
  std::int32_t index_interval_bytes = 4096;

  // cleanup.policy: delete (ApplyRetention removes old segments by retention.ms and
  // retention.bytes), compact (PartitionLog::Compact keeps the latest record per key; the
  // retention limits do not apply), or both. Default delete.
  CleanupPolicy cleanup_policy = CleanupPolicy::kDelete;

  // delete.retention.ms: how long a tombstone (a record with a null value) survives after the
  // compaction pass that first found it to be the latest record for its key; consumers
  // reading from the start see it within that time. Milliseconds. Default 1 day, Kafka's.
  std::int64_t delete_retention_ms = 24LL * 60 * 60 * 1000;

  // min.compaction.lag.ms: a segment is compacted only once its largest batch timestamp is at
  // least this old, so recent records are never removed. Milliseconds. Default 0.
  std::int64_t min_compaction_lag_ms = 0;

  // file.delete.delay.ms: a deleted segment's files are renamed to *.deleted and removed this
  // long afterwards, at a later retention pass (or on the next Open). Readers keep their file
  // descriptors either way. Milliseconds. Default 60000.
  std::int64_t file_delete_delay_ms = 60000;
};

// The storage engine's notion of now, in milliseconds since the Unix epoch. Tests inject a
// fake; the broker passes SystemClockMs.
using Clock = std::function<std::int64_t()>;

inline std::int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tern::broker::storage
