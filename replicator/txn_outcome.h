// Whether transactions that wrote records to the target committed, told by the target's own
// log: a record is read with read_committed isolation from its offset. Seen there, its
// transaction committed; skipped (the next record, or the end, lies past it), it aborted.
// Start-up uses it for a commit the state dir prepared but never stored, when the target's
// committed progress cannot say (see replicator/README.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/replicator_config.h"

namespace tern::replicator {

struct TargetRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

enum class TxnOutcome {
  kCommitted,
  kAborted,
  // Not decided within the wait: the record is below the log start, an open transaction
  // holds the last stable offset at or below it, or the target did not answer.
  kUnknown,
};

// One outcome per record, in order. Records must name distinct partitions.
std::vector<TxnOutcome> TxnOutcomes(const ReplicatorConfig& config,
                                    const std::vector<TargetRecord>& records,
                                    std::chrono::milliseconds wait);

}  // namespace tern::replicator
