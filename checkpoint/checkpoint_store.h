// CheckpointStore: the replicator's durable state. For each replicated source partition it
// keeps the progress (the next source offset to copy) and the offset map: runs of consecutive
// source offsets copied to consecutive target offsets. Runs make the map exact wherever either
// log has gaps (compaction, transaction markers, records skipped by loop prevention) while
// costing one entry per gap, not one per record.
//
// Thread-safe. Every mutating call is atomic (one write batch) and durable when it returns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace tern {

// A source partition, named by its source topic.
struct SourcePartition {
  std::string topic;
  std::int32_t partition = 0;
  friend bool operator==(const SourcePartition&, const SourcePartition&) = default;
  friend auto operator<=>(const SourcePartition&, const SourcePartition&) = default;
};

// Source offsets [upstream, upstream + length) were copied to target offsets
// [downstream, downstream + length).
struct OffsetRun {
  std::int64_t upstream = 0;
  std::int64_t downstream = 0;
  std::int64_t length = 0;
  friend bool operator==(const OffsetRun&, const OffsetRun&) = default;
};

struct PartitionProgress {
  // The next source offset to copy: everything below it was copied (or was a gap).
  std::int64_t next_source_offset = 0;
  // The target offset after the last copied record (the target's end when it was copied).
  std::int64_t next_target_offset = 0;
  // The source topic's id (16 bytes, Kafka's topic UUID) or another incarnation marker when
  // the source has no topic ids; empty when unknown. A change means the topic was re-created.
  std::string topic_incarnation;
  // Wall-clock time of the update, milliseconds since the epoch.
  std::int64_t updated_ms = 0;
  friend bool operator==(const PartitionProgress&, const PartitionProgress&) = default;
};

// One partition's share of a commit: new runs (ascending, after every run already stored,
// may extend the last stored run when contiguous) and the new progress.
struct PartitionUpdate {
  SourcePartition partition;
  std::vector<OffsetRun> runs;
  PartitionProgress progress;
  friend bool operator==(const PartitionUpdate&, const PartitionUpdate&) = default;
};

enum class Translation {
  kExact,               // `offset` is where the consumer continues on the target
  kBeforeMap,           // older than every mapped offset (compacted away, or never copied)
  kAheadOfReplication,  // not copied yet; translate again later
};

struct TranslatedOffset {
  Translation kind = Translation::kBeforeMap;
  std::int64_t offset = -1;  // valid when kind == kExact
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // Stores runs and progress of several partitions in one atomic, durable write.
  virtual Status Commit(const std::vector<PartitionUpdate>& updates) = 0;

  virtual Result<std::optional<PartitionProgress>> Progress(const SourcePartition& p) = 0;
  virtual Result<std::vector<std::pair<SourcePartition, PartitionProgress>>> AllProgress() = 0;

  // Translates a committed source offset C (the next record the consumer would read) to the
  // target offset where the same consumer continues with no gap and no duplicate:
  // - C inside a run: run.downstream + (C - run.upstream);
  // - C in a gap between runs (no source record there was copied): the next run's downstream;
  // - C at or after the end of the last run but C <= progress.next_source_offset:
  //   last.downstream + last.length (everything before C is on the target);
  // - C > progress.next_source_offset: kAheadOfReplication;
  // - C before the first run: the first run's downstream if C >= the partition's floor (the
  //   source offset the map starts at, see Forget/TrimBelow), else kBeforeMap.
  virtual Result<TranslatedOffset> Translate(const SourcePartition& p, std::int64_t offset) = 0;

  // The runs of a partition intersecting [from, to) upstream, ascending (for tools and tests).
  virtual Result<std::vector<OffsetRun>> Runs(const SourcePartition& p, std::int64_t from,
                                              std::int64_t to) = 0;

  // Forgets every run at or above `upstream` (a run crossing it is shortened) and sets the
  // progress: used on start-up when the target's committed progress is behind the store.
  virtual Status TruncateFrom(const SourcePartition& p, std::int64_t upstream,
                              const PartitionProgress& progress) = 0;

  // Drops runs entirely below `upstream` and raises the partition's floor to it: the source
  // deleted those records (retention), so no consumer can need them translated.
  virtual Status TrimBelow(const SourcePartition& p, std::int64_t upstream) = 0;

  // Removes everything about a partition (the topic was deleted or re-created at the source).
  virtual Status Forget(const SourcePartition& p) = 0;

  // The floor set at the first commit of a partition (its first run's upstream) or by
  // TrimBelow; -1 when the partition is unknown.
  virtual Result<std::int64_t> Floor(const SourcePartition& p) = 0;

  // A commit made elsewhere first (the target's transaction) and stored here only after it:
  // Prepare records the updates about to be committed there, so that a process dying
  // between the two leaves behind what it was committing, for start-up to check against the
  // target and finish (Commit) or drop. Commit, TruncateFrom and Forget of a partition drop
  // its prepared update; Prepare replaces it (the last update of a partition named twice
  // wins). Like every write it is synced: a machine that loses power after the other commit
  // still finds it.
  virtual Status Prepare(const std::vector<PartitionUpdate>& updates) = 0;
  virtual Result<std::optional<PartitionUpdate>> Prepared(const SourcePartition& p) = 0;
  virtual Status DropPrepared(const std::vector<SourcePartition>& partitions) = 0;
};

// Opens (creating if missing) a RocksDB store in `dir`. A directory that is not a store, or
// a corrupted store, is an error naming the directory; nothing is deleted.
Result<std::unique_ptr<CheckpointStore>> OpenRocksDbCheckpointStore(const std::string& dir);

}  // namespace tern
