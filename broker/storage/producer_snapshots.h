// ProducerSnapshots: the producer-state snapshot files of one partition directory,
// <dir>/<offset zero-padded to 20 digits>.snapshot, each holding the ProducerStateTable
// (broker/txn/producer_state.h) as it was after every batch below that offset. PartitionLog
// writes one at every segment roll and on Close, and on Open loads the newest usable one and
// replays only the batch headers after it.
//
// A snapshot is usable when its offset lies between the first segment's base offset (below
// it, batches after the snapshot are gone and the replay would miss them) and the log end
// (above it, the snapshot counts batches a torn tail lost). Files outside that range are
// deleted; so is a file that fails to decode (a warning names it), and the next older one is
// tried. Only the newest kKept snapshots are kept.
//
// Not thread-safe: the owning PartitionLog serialises every call under its mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "broker/txn/producer_state.h"
#include "common/result.h"
#include "common/status.h"

namespace tern::broker::storage {

class ProducerSnapshots {
 public:
  static constexpr std::size_t kKept = 2;

  explicit ProducerSnapshots(std::string dir) : dir_(std::move(dir)) {}

  // Takes note of a directory entry found at Open; false when `name` is not a snapshot's.
  bool Adopt(std::string_view name);

  // The newest snapshot whose offset lies in [min_offset, max_offset] and decodes; nullopt
  // when there is none. Deletes the files it passes over. IoError only when a file cannot be
  // read or removed.
  Result<std::optional<txn::ProducerStateTable::Snapshot>> LoadNewest(std::int64_t min_offset,
                                                                     std::int64_t max_offset);

  // Writes `table` as the snapshot at `offset` (atomically and durably), then deletes all but
  // the newest kKept.
  Status Write(std::int64_t offset, const txn::ProducerStateTable& table);

  // Deletes the snapshots below `offset` (the new first segment base after retention).
  Status RemoveBelow(std::int64_t offset);

  const std::set<std::int64_t>& offsets() const { return offsets_; }
  std::string PathOf(std::int64_t offset) const;

 private:
  Status Remove(std::int64_t offset);

  const std::string dir_;
  std::set<std::int64_t> offsets_;
};

}  // namespace tern::broker::storage
