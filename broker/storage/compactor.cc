// Also defines PartitionLog::Compact, the pass itself, so partition_log.cc stays about
// appends, reads and retention.
#include "broker/storage/compactor.h"

#include <limits>
#include <vector>

#include <spdlog/spdlog.h>

#include "broker/storage/partition_log.h"

namespace tern::broker::storage {
namespace {

using kafka::RecordBatchHeader;

// Cleaned batches are appended to the new segment in chunks of about this size.
constexpr std::size_t kWriteChunk = 1024 * 1024;

// Whether cleaning would change anything in `segment`.
Result<bool> NeedsCleaning(const Segment& segment, const LatestOffsets& latest,
                           const CleaningRules& rules) {
  bool changes = false;
  Status status = segment.ForEachBatch([&](const RecordBatchHeader& h, std::string_view batch) {
    if (changes) return Status::Ok();
    Result<CleanedBatch> cleaned = CleanBatch(batch, h, latest, rules);
    if (!cleaned.ok()) return cleaned.status();
    changes = cleaned.value().outcome != CleanedBatch::Outcome::kUnchanged;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return changes;
}

Status CopyCleaned(const Segment& from, Segment& to, const LatestOffsets& latest,
                   const CleaningRules& rules, std::int32_t index_interval_bytes) {
  std::string pending;
  std::vector<RecordBatchHeader> headers;
  auto flush = [&]() {
    if (pending.empty()) return Status::Ok();
    Status s = to.Append(pending, headers, index_interval_bytes, rules.now_ms);
    pending.clear();
    headers.clear();
    return s;
  };
  Status status = from.ForEachBatch([&](const RecordBatchHeader& h, std::string_view batch) {
    Result<CleanedBatch> cleaned = CleanBatch(batch, h, latest, rules);
    if (!cleaned.ok()) return cleaned.status();
    switch (cleaned.value().outcome) {
      case CleanedBatch::Outcome::kRemoved:
        return Status::Ok();
      case CleanedBatch::Outcome::kUnchanged:
        pending.append(batch);
        headers.push_back(h);
        break;
      case CleanedBatch::Outcome::kRewritten: {
        Result<RecordBatchHeader> header = kafka::ParseRecordBatchHeader(cleaned.value().bytes);
        if (!header.ok()) return header.status();
        pending.append(cleaned.value().bytes);
        headers.push_back(header.value());
        break;
      }
    }
    return pending.size() >= kWriteChunk ? flush() : Status::Ok();
  });
  if (!status.ok()) return status;
  if (Status s = flush(); !s.ok()) return s;
  if (Status s = to.Seal(); !s.ok()) return s;
  return to.SyncAll();
}

}  // namespace

Status CollectSegmentKeys(const Segment& segment, LatestOffsets* latest,
                          const AbortedBatch& aborted) {
  return segment.ForEachBatch([&](const RecordBatchHeader& h, std::string_view batch) {
    if (aborted && aborted(h)) return Status::Ok();
    return CollectLatestOffsets(batch, h, latest);
  });
}

Result<std::shared_ptr<Segment>> WriteCleanedSegment(const std::string& dir,
                                                     const Segment& segment,
                                                     const LatestOffsets& latest,
                                                     const CleaningRules& rules,
                                                     std::int32_t index_interval_bytes) {
  Result<bool> needed = NeedsCleaning(segment, latest, rules);
  if (!needed.ok()) return needed.status();
  if (!needed.value()) return std::shared_ptr<Segment>();
  Result<std::shared_ptr<Segment>> cleaned =
      Segment::Create(dir, segment.base_offset(), kCleanedSuffix);
  if (!cleaned.ok()) return cleaned.status();
  if (Status s = CopyCleaned(segment, *cleaned.value(), latest, rules, index_interval_bytes);
      !s.ok()) {
    if (Status removed = cleaned.value()->RemoveFiles(); !removed.ok()) {
      spdlog::warn("removing {}: {}", cleaned.value()->log_path(), removed.ToString());
    }
    return s;
  }
  return cleaned;
}

Status PartitionLog::Compact(std::int64_t now_ms) {
  std::lock_guard pass_lock(compact_mu_);
  std::vector<std::shared_ptr<Segment>> cleanable;
  LogConfig config;
  std::vector<txn::AbortedTxn> aborted;
  {
    std::lock_guard lock(mu_);
    if (Status s = CheckUsable(); !s.ok()) return s;
    config = config_;
    if (config.cleanup_policy == CleanupPolicy::kDelete) return Status::Ok();
    // Records of a transaction still open may yet be aborted: nothing from its first offset
    // on is cleaned, so they can neither supersede nor be superseded (Kafka cleans below the
    // first unstable offset only).
    const std::int64_t stable_end =
        producers_.FirstUnstableOffset().value_or(std::numeric_limits<std::int64_t>::max());
    aborted = producers_.aborted();
    for (auto it = segments_.begin(); std::next(it) != segments_.end(); ++it) {
      if (it->second->next_offset() > stable_end) break;
      if (config.min_compaction_lag_ms > 0 &&
          it->second->max_timestamp() > now_ms - config.min_compaction_lag_ms) {
        break;
      }
      cleanable.push_back(it->second);
    }
  }
  if (cleanable.empty()) return Status::Ok();

  // A transactional batch lies in an aborted transaction when its producer's abort marker
  // follows it and that transaction's first offset is at or before it.
  AbortedBatch is_aborted;
  if (!aborted.empty()) {
    is_aborted = [&aborted](const RecordBatchHeader& h) {
      if (!h.is_transactional() || h.is_control()) return false;
      for (const txn::AbortedTxn& a : aborted) {
        if (a.producer_id == h.producer_id && a.first_offset <= h.base_offset &&
            h.base_offset < a.last_offset) {
          return true;
        }
      }
      return false;
    };
  }
  LatestOffsets latest;
  for (const std::shared_ptr<Segment>& segment : cleanable) {
    if (Status s = CollectSegmentKeys(*segment, &latest, is_aborted); !s.ok()) return s;
  }
  const CleaningRules rules{.now_ms = now_ms,
                            .delete_retention_ms = config.delete_retention_ms,
                            .aborted = is_aborted};
  bool installed = false;
  for (const std::shared_ptr<Segment>& segment : cleanable) {
    Result<std::shared_ptr<Segment>> cleaned =
        WriteCleanedSegment(dir_, *segment, latest, rules, config.index_interval_bytes);
    if (!cleaned.ok()) return cleaned.status();
    if (cleaned.value() == nullptr) continue;
    Result<bool> swapped = ReplaceSegment(segment, cleaned.value());
    if (!swapped.ok()) return swapped.status();
    installed = installed || swapped.value();
  }
  return installed ? SyncDirectory(dir_) : Status::Ok();
}

Result<bool> PartitionLog::ReplaceSegment(const std::shared_ptr<Segment>& original,
                                          const std::shared_ptr<Segment>& cleaned) {
  std::lock_guard lock(mu_);
  auto it = segments_.find(original->base_offset());
  if (closed_ || it == segments_.end() || it->second != original) {
    // Retention, DeleteRecords or Close got to the segment first.
    if (Status s = cleaned->RemoveFiles(); !s.ok()) return s;
    return false;
  }
  if (cleaned->empty() && it != segments_.begin()) {
    // Nothing is left, so the segment goes. The first one stays, however empty, so that the
    // log start offset does not move: a consumer's position inside it stays valid.
    if (Status s = cleaned->RemoveFiles(); !s.ok()) return s;
    if (Status s = original->RenameForDeletion(); !s.ok()) return s;
    segments_.erase(it);
    size_bytes_ -= original->size();
    directory_dirty_ = true;
    spdlog::info("{}: compaction emptied segment {}, deleting it", dir_, original->base_offset());
    pending_deletions_.push_back({clock_(), original});
    return true;
  }
  if (Status s = cleaned->Install(kCleanedSuffix); !s.ok()) {
    // The segment's files may now disagree with each other; no clean-shutdown marker may be
    // written, so that the next Open rebuilds them from the log.
    failed_ = true;
    spdlog::error("{}: installing a compacted segment failed, refusing further appends: {}",
                  dir_, s.ToString());
    return s;
  }
  size_bytes_ += cleaned->size() - original->size();
  spdlog::info("{}: compacted segment {} from {} to {} bytes", dir_, original->base_offset(),
               original->size(), cleaned->size());
  it->second = cleaned;
  directory_dirty_ = true;
  return true;
}

}  // namespace tern::broker::storage
