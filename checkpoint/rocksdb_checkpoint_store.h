// RocksDbCheckpointStore: the CheckpointStore kept in a RocksDB database in one directory (the
// replicator's state_dir). The key layout is described in checkpoint/README.md. RocksDB stays
// behind a pimpl so that only checkpoint/ compiles against its headers.
//
// Behaviour the interface leaves open, decided here:
// - Translate of a partition with no progress is kAheadOfReplication: nothing was copied yet.
// - Translate of an offset at or above the floor, below next_source_offset, when the partition
//   has no runs (nothing copied, or every run trimmed) is progress.next_target_offset.
// - Commit and TruncateFrom refuse (InvalidArgument, nothing written) a progress whose
//   next_source_offset is below the end of the partition's last run, an empty topic name, and
//   runs with a negative offset or an end past INT64_MAX.
// - TrimBelow of a partition with no progress does nothing: there is no floor to raise.
// - AllProgress is ordered by topic, then partition.
//
// Writers (Commit, TruncateFrom, TrimBelow, Forget) are serialized by one mutex, since each
// reads the runs it is about to change; readers take a RocksDB snapshot and never block.
#pragma once

#include <memory>
#include <string>

#include "checkpoint/checkpoint_store.h"

namespace tern {

class RocksDbCheckpointStore final : public CheckpointStore {
 public:
  // See OpenRocksDbCheckpointStore in checkpoint_store.h.
  static Result<std::unique_ptr<RocksDbCheckpointStore>> Open(const std::string& dir);

  ~RocksDbCheckpointStore() override;
  RocksDbCheckpointStore(const RocksDbCheckpointStore&) = delete;
  RocksDbCheckpointStore& operator=(const RocksDbCheckpointStore&) = delete;

  Status Commit(const std::vector<PartitionUpdate>& updates) override;
  Result<std::optional<PartitionProgress>> Progress(const SourcePartition& p) override;
  Result<std::vector<std::pair<SourcePartition, PartitionProgress>>> AllProgress() override;
  Result<TranslatedOffset> Translate(const SourcePartition& p, std::int64_t offset) override;
  Result<std::vector<OffsetRun>> Runs(const SourcePartition& p, std::int64_t from,
                                      std::int64_t to) override;
  Status TruncateFrom(const SourcePartition& p, std::int64_t upstream,
                      const PartitionProgress& progress) override;
  Status TrimBelow(const SourcePartition& p, std::int64_t upstream) override;
  Status Forget(const SourcePartition& p) override;
  Result<std::int64_t> Floor(const SourcePartition& p) override;
  Status Prepare(const std::vector<PartitionUpdate>& updates) override;
  Result<std::optional<PartitionUpdate>> Prepared(const SourcePartition& p) override;
  Status DropPrepared(const std::vector<SourcePartition>& partitions) override;

  // The directory the store lives in, as passed to Open.
  const std::string& dir() const;

 private:
  struct Impl;
  explicit RocksDbCheckpointStore(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace tern
