// ProducerStateTable: what one partition knows about the idempotent producers writing to it, as
// Kafka keeps it — for each producer id its current epoch and the metadata (sequence range,
// offsets, max timestamp) of its last five batches, the most a client has in flight per
// partition. Produce checks a client's batches against it: a stale epoch is refused
// (INVALID_PRODUCER_EPOCH), a retry of one of the five batches is answered with the offsets it
// got the first time instead of being written again, and a batch that does not continue the
// producer's sequence is refused (OUT_OF_ORDER_SEQUENCE_NUMBER). An unknown producer may start
// at any sequence, as in Kafka 4 (its state may have expired or been removed with its data).
//
// Transactions: a transactional batch opens the producer's transaction in the partition (its
// first offset is kept) and a control batch (a commit or abort marker, written by the
// transaction coordinator) closes it. The table knows the partition's open transactions (the
// first unstable offset, which bounds the last stable offset read_committed consumers read
// up to) and keeps the aborted ones (producer, first offset, marker offset) that Fetch lists
// so read_committed consumers skip their records.
//
// The table is rebuilt from the log's batch headers (Replay) and saved in snapshots
// (EncodeSnapshot/DecodeSnapshot: a versioned, CRC-checked binary form; the caller owns the
// files).
//
// A plain value type with no I/O and no locking: the owning PartitionLog serialises every call
// under its mutex, which makes the check and the append it guards one atomic step.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "kafka/error_code.h"
#include "kafka/record_batch.h"

namespace tern::broker::txn {

// Batches remembered per producer for duplicate detection (Kafka's
// max.in.flight.requests.per.connection limit for idempotence).
inline constexpr std::size_t kBatchesPerProducer = 5;

inline constexpr std::int16_t kNoProducerEpoch = -1;
inline constexpr std::int32_t kNoSequence = -1;

// The sequence number of the record `delta` places after `sequence`; sequences wrap from
// 2^31-1 to 0.
std::int32_t IncrementSequence(std::int32_t sequence, std::int32_t delta);

// Whether `next` is the sequence that follows `last` (with the wrap from 2^31-1 to 0).
bool InSequence(std::int32_t last, std::int32_t next);

// One batch as the table remembers it.
struct BatchMetadata {
  std::int32_t first_sequence = kNoSequence;
  std::int32_t last_sequence = kNoSequence;
  std::int64_t first_offset = -1;
  std::int64_t last_offset = -1;
  std::int64_t max_timestamp = -1;

  friend bool operator==(const BatchMetadata&, const BatchMetadata&) = default;
};

// The metadata of `header` (which must carry its final base offset).
BatchMetadata MetadataOf(const kafka::RecordBatchHeader& header);

struct ProducerEntry {
  std::int16_t epoch = kNoProducerEpoch;
  // The last batches of `epoch`, oldest first, at most kBatchesPerProducer.
  std::vector<BatchMetadata> batches;
  // The broker's clock at the producer's last append (or when recovery replayed it): what
  // producer_id_expiration_ms counts from.
  std::int64_t last_append_ms = 0;
  // The first offset of the producer's open transaction in this partition; -1: none.
  std::int64_t txn_first_offset = -1;
  // The coordinator epoch of the producer's last marker; -1: none yet.
  std::int32_t coordinator_epoch = -1;

  // Records a batch of `batch_epoch`; a new epoch forgets the batches of the old one.
  void AddBatch(std::int16_t batch_epoch, const BatchMetadata& batch);
  // The remembered batch of this epoch with exactly this sequence range, if any.
  std::optional<BatchMetadata> FindBatch(std::int16_t batch_epoch, std::int32_t first_sequence,
                                         std::int32_t last_sequence) const;
  std::int32_t last_sequence() const {
    return batches.empty() ? kNoSequence : batches.back().last_sequence;
  }

  friend bool operator==(const ProducerEntry&, const ProducerEntry&) = default;
};

// An aborted transaction of one producer: its records lie between first_offset and its abort
// marker at last_offset.
struct AbortedTxn {
  std::int64_t producer_id = -1;
  std::int64_t first_offset = -1;
  std::int64_t last_offset = -1;

  friend bool operator==(const AbortedTxn&, const AbortedTxn&) = default;
};

// Who writes a batch: a client through Produce (sequence numbers checked), or the broker
// itself for a producer (transactional offset commits; no sequence numbers).
enum class AppendOrigin { kClient, kCoordinator };

// What a marker closed: the transaction's first offset (-1 when the producer had none open).
struct CompletedTxn {
  std::int64_t producer_id = -1;
  std::int64_t first_offset = -1;
  std::int64_t marker_offset = -1;
  bool committed = false;
};

// The verdict on a client's batches.
struct AppendCheck {
  enum class Outcome {
    kAppend,     // write them, then Apply(updated)
    kDuplicate,  // a retry: write nothing, acknowledge `duplicate`'s offsets
    kRefused,    // write nothing, answer `error`
  };
  Outcome outcome = Outcome::kAppend;
  BatchMetadata duplicate;
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::string message;
  // The entries of the producers involved as they will be once the batches are written.
  std::map<std::int64_t, ProducerEntry> updated;
};

class ProducerStateTable {
 public:
  // Checks a client's batches, in order, as Kafka's leader does. `headers` must carry the base
  // offsets the batches will get. Batches without a producer id (-1) pass unchecked. A batch
  // that repeats one of the five remembered batches of its producer makes the whole call a
  // duplicate (nothing of it is written). Does not change the table.
  // Transactional batches open (or continue) their producer's transaction; a
  // non-transactional batch of a producer with an open transaction is refused
  // (INVALID_TXN_STATE). Control batches pass unchecked: the caller applies them as markers. Batches of AppendOrigin::kCoordinator carry no sequence numbers: only
  // their epoch is checked.
  AppendCheck Check(const std::vector<kafka::RecordBatchHeader>& headers,
                    AppendOrigin origin = AppendOrigin::kClient) const;

  // Makes the entries of a kAppend check current, stamped with `now_ms`, once the batches are
  // in the log.
  void Apply(std::map<std::int64_t, ProducerEntry> updated, std::int64_t now_ms);

  // Whether a marker of `producer_id` at `epoch` may be written: NONE, or
  // INVALID_PRODUCER_EPOCH when the producer has a newer epoch here.
  kafka::ErrorCode CheckMarker(std::int64_t producer_id, std::int16_t epoch) const;
  // Records a marker written at `marker_offset`: closes the producer's open transaction
  // (keeping it in the aborted list when `committed` is false) and moves the producer to
  // `epoch` (a newer epoch forgets the old one's batches).
  CompletedTxn ApplyMarker(std::int64_t producer_id, std::int16_t epoch,
                           std::int32_t coordinator_epoch, bool committed,
                           std::int64_t marker_offset, std::int64_t now_ms);

  // Recovery: adds one batch read back from the log, unchecked. For a control batch,
  // `committed_marker` is its marker's type (nullopt: not a transaction marker).
  void Replay(const kafka::RecordBatchHeader& header, std::int64_t now_ms,
              std::optional<bool> committed_marker = std::nullopt);

  // Forgets producers whose last append is at least `expiration_ms` before `now_ms`, except
  // those with an open transaction. Returns how many were forgotten.
  std::size_t RemoveExpired(std::int64_t now_ms, std::int64_t expiration_ms);

  // The first offset of the oldest open transaction; nullopt when none is open.
  std::optional<std::int64_t> FirstUnstableOffset() const;
  // The aborted transactions with records in [from, to): marker at or after `from`, first
  // offset before `to`; in marker order.
  std::vector<AbortedTxn> AbortedBetween(std::int64_t from, std::int64_t to) const;
  // Forgets aborted transactions whose marker lies below `offset` (the log start).
  void RemoveAbortedBelow(std::int64_t offset);
  const std::vector<AbortedTxn>& aborted() const { return aborted_; }
  // The producers with an open transaction, by first offset.
  const std::set<std::pair<std::int64_t, std::int64_t>>& open_txns() const { return open_; }
  const std::unordered_map<std::int64_t, ProducerEntry>& producers() const { return producers_; }

  const ProducerEntry* Find(std::int64_t producer_id) const;
  std::size_t size() const { return producers_.size(); }
  bool empty() const { return producers_.empty(); }

  // The snapshot of the table as it is after every batch below `offset`.
  std::string EncodeSnapshot(std::int64_t offset) const;
  // The table and the offset it was taken at. Corruption when the bytes are not a whole,
  // intact snapshot of a version this build reads.
  struct Snapshot;
  static Result<Snapshot> DecodeSnapshot(std::string_view bytes);

  friend bool operator==(const ProducerStateTable&, const ProducerStateTable&) = default;

 private:
  void SetOpen(std::int64_t producer_id, std::int64_t old_first, std::int64_t new_first);

  std::unordered_map<std::int64_t, ProducerEntry> producers_;
  std::set<std::pair<std::int64_t, std::int64_t>> open_;  // (first offset, producer id)
  std::vector<AbortedTxn> aborted_;                        // by marker offset
};

struct ProducerStateTable::Snapshot {
  std::int64_t offset = 0;
  ProducerStateTable table;
};

}  // namespace tern::broker::txn
