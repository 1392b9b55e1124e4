// The segment-level half of log compaction (cleanup.policy=compact); batch_cleaner.h holds the
// record-level half and PartitionLog::Compact runs a pass. A pass takes the cleanable segments
// (every segment but the active one, up to the first whose records are younger than
// min.compaction.lag.ms), maps every key in them to its latest offset, and writes a cleaned
// copy of each segment that would lose records as "<base>.log.cleaned" (with its indexes),
// synced before PartitionLog installs it by renaming it over the original. A crash leaves at
// most a stray ".cleaned" file, which Open removes: the original is untouched until the
// rename. Offsets never change; Kafka's key map is bounded, this one holds every key of the
// cleanable segments in memory.
//
// The functions read sealed segments without the PartitionLog's mutex and write only their
// own new files; the caller runs one pass at a time per log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "broker/storage/batch_cleaner.h"
#include "broker/storage/segment.h"
#include "common/result.h"
#include "common/status.h"

namespace tern::broker::storage {

inline constexpr std::string_view kCleanedSuffix = ".cleaned";

// Adds the keys of every batch of `segment` to `latest`. REQUIRES: `segment` is sealed.
Status CollectSegmentKeys(const Segment& segment, LatestOffsets* latest,
                          const AbortedBatch& aborted = {});

// Writes, syncs and returns the cleaned copy of `segment` as files named with kCleanedSuffix
// in `dir`, or nullptr when compaction would not change the segment (no files are written).
// On failure the partial files are removed. REQUIRES: `segment` is sealed.
Result<std::shared_ptr<Segment>> WriteCleanedSegment(const std::string& dir,
                                                     const Segment& segment,
                                                     const LatestOffsets& latest,
                                                     const CleaningRules& rules,
                                                     std::int32_t index_interval_bytes);

}  // namespace tern::broker::storage
