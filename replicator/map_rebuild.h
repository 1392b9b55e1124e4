// Rebuilds offset-map runs from the offset-syncs topic on the target, for a state directory
// that is missing or behind the progress committed on the target; and finds where to resume
// when the target holds less than the state directory says was copied. In exactly-once mode every
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

// Where copying resumes on a target partition that ends at `target_end`, below what the store
// says was copied there (the target lost records, or is not the cluster the store was written
// for): right after the last record the runs place below `target_end`. With no run below it,
// at `floor`, the first source offset the map covers (-1 when unknown: the source's start).
struct ResumePoint {
  std::int64_t source = -1;  // -1: the source partition's start
  std::int64_t target = 0;   // the target offset the next record lands at (target_end)
};
ResumePoint ResumeOnShorterTarget(const std::vector<OffsetRun>& runs, std::int64_t floor,
                                  std::int64_t target_end);

}  // namespace tern::replicator
