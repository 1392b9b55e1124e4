// The record-level half of log compaction: reading the keys out of a record batch, and
// rewriting a batch so it keeps only the records compaction retains. A batch keeps its base
// offset, lastOffsetDelta, producer fields, max timestamp and codec, so offsets never move and
// the next offset after the batch is unchanged; only recordsCount, the records and the CRC
// change. Control batches (transaction markers) are never decoded or changed.
//
// Tombstones follow Kafka's delete horizon (KIP-534): the first pass that keeps a tombstone as
// the latest record of its key sets the batch's delete-horizon attribute (0x40) and stores the
// horizon, now + delete.retention.ms, in baseTimestamp, with each record's timestamp delta
// rewritten so every record keeps its timestamp. A later pass at or past the horizon drops
// the batch's tombstones.
//
// Pure functions over byte views; any thread may call them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "common/status.h"
#include "kafka/record_batch.h"

namespace tern::broker::storage {

// Each key of the cleanable part of a log and the offset of its latest record.
using LatestOffsets = std::unordered_map<std::string, std::int64_t>;

// Records `batch`'s keyed records in `latest` (later offsets replace earlier ones). Control
// batches are skipped. Fails (InvalidArgument) when the records cannot be decompressed or
// decoded, or decode to more than kMaxCleanableRecordsBytes.
Status CollectLatestOffsets(std::string_view batch, const kafka::RecordBatchHeader& header,
                            LatestOffsets* latest);

inline constexpr std::size_t kMaxCleanableRecordsBytes = 256 * 1024 * 1024;

struct CleanedBatch {
  enum class Outcome {
    kUnchanged,  // keep the original bytes
    kRewritten,  // `bytes` replace the batch
    kRemoved,    // nothing of the batch survives
  };
  Outcome outcome = Outcome::kUnchanged;
  std::string bytes;
};

// Whether a batch belongs to an aborted transaction (its records were never committed).
using AbortedBatch = std::function<bool(const kafka::RecordBatchHeader&)>;

struct CleaningRules {
  std::int64_t now_ms = 0;
  std::int64_t delete_retention_ms = 0;
  // Batches of aborted transactions are removed whole and supersede nothing; may be empty.
  AbortedBatch aborted = nullptr;
};

// Decides what compaction keeps of `batch`: nothing of an aborted transaction's batch; a keyed
// record survives when `latest` names its
// offset (or does not know its key); a record without a key never survives; a surviving
// tombstone survives until its batch's delete horizon has passed. Errors as for
// CollectLatestOffsets, plus Unsupported when the codec cannot re-encode.
Result<CleanedBatch> CleanBatch(std::string_view batch, const kafka::RecordBatchHeader& header,
                                const LatestOffsets& latest, const CleaningRules& rules);

}  // namespace tern::broker::storage
