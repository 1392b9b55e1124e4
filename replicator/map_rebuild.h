// Rebuilds offset-map runs from the offset-syncs topic on the target, for a state directory
// that is missing or behind the progress committed on the target. In exactly-once mode every
// run's first offset pair was written to offset-syncs in the transaction that copied it, so
// the runs come back exactly, except where the topic's compaction already removed old syncs
// (translation of those offsets is then unavailable rather than wrong).
#pragma once

#include <map>
#include <vector>

#include "checkpoint/checkpoint_store.h"
#include "config/replicator_config.h"

namespace tern::replicator {

struct RebuildRequest {
  SourcePartition source;
  std::int64_t from = 0;        // source offsets [from, to) need runs
  std::int64_t to = 0;
  std::int64_t target_end = 0;  // the target partition's end offset
};

Result<std::map<SourcePartition, std::vector<OffsetRun>>> RebuildRuns(
    const ReplicatorConfig& config, const std::vector<RebuildRequest>& requests);

// Turns syncs (upstream, downstream) sorted by upstream into runs ending at `to` upstream and
// `target_end` downstream: each run is as long as both logs allow before the next sync.
std::vector<OffsetRun> RunsFromSyncs(const std::vector<std::pair<std::int64_t, std::int64_t>>& syncs,
                                     std::int64_t to, std::int64_t target_end);

}  // namespace tern::replicator
