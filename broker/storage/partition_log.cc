#include "broker/storage/partition_log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kafka/record_batch.h"
#include "kafka/txn_marker.h"

namespace tern::broker::storage {
namespace {

constexpr std::string_view kCleanShutdownFile = "clean-shutdown";
constexpr std::string_view kLogStartFile = "log-start-offset";
constexpr std::size_t kSegmentNameDigits = 20;

// The base offset of "<20 digits>.log", or nullopt for any other name.
std::optional<std::int64_t> SegmentBaseFromName(std::string_view name) {
  if (name.size() != kSegmentNameDigits + 4 || !name.ends_with(".log")) return std::nullopt;
  std::int64_t base = 0;
  const char* end = name.data() + kSegmentNameDigits;
  auto [ptr, ec] = std::from_chars(name.data(), end, base);
  if (ec != std::errc() || ptr != end || base < 0) return std::nullopt;
  return base;
}

bool IsLeftover(std::string_view name) {
  return name.ends_with(".deleted") || name.ends_with(".tmp") || name.ends_with(".cleaned");
}

}  // namespace

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(const std::string& dir,
                                                         const LogConfig& config, Clock clock) {
  std::unique_ptr<PartitionLog> log(new PartitionLog(dir, config, std::move(clock)));
  if (Status s = log->Recover(); !s.ok()) return s;
  return log;
}

PartitionLog::~PartitionLog() = default;

Status PartitionLog::Recover() {
  if (Status s = CreateDirectories(dir_); !s.ok()) return s;
  Result<std::vector<std::string>> names = ListDirectory(dir_);
  if (!names.ok()) return names.status();
  std::vector<std::int64_t> bases;
  for (const std::string& name : names.value()) {
    if (IsLeftover(name)) {
      if (Status s = RemoveFile(dir_ + "/" + name); !s.ok()) return s;
    } else if (std::optional<std::int64_t> base = SegmentBaseFromName(name)) {
      bases.push_back(*base);
    } else {
      snapshots_.Adopt(name);
    }
  }
  std::sort(bases.begin(), bases.end());

  std::optional<std::int64_t> persisted_start;
  Result<std::string> start_text = ReadWholeFile(dir_ + "/" + std::string(kLogStartFile));
  if (start_text.ok()) {
    std::int64_t value = -1;
    const std::string& text = start_text.value();
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && value >= 0 && (ptr == text.data() + text.size() || *ptr == '\n')) {
      persisted_start = value;
    } else {
      spdlog::warn("{}/{}: unreadable log start offset, using the first segment's", dir_,
                   kLogStartFile);
    }
  } else if (start_text.status().code() != Status::Code::kNotFound) {
    return start_text.status();
  }

  const std::string marker = dir_ + "/" + std::string(kCleanShutdownFile);
  const bool clean = FileExists(marker);
  const std::int64_t now = clock_();
  std::int64_t min_base = 0;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    if (bases[i] < min_base) {
      return Status::Corruption(fmt::format("{}: segment starts at {} inside the previous one, "
                                            "which ends at {}",
                                            SegmentPath(dir_, bases[i], ".log"), bases[i],
                                            min_base));
    }
    Segment::RecoverOptions options;
    options.is_last = i + 1 == bases.size();
    options.trust_indexes = clean && !options.is_last;
    options.min_base_offset = min_base;
    options.index_interval_bytes = config_.index_interval_bytes;
    options.now_ms = now;
    Result<std::shared_ptr<Segment>> segment = Segment::Recover(dir_, bases[i], options);
    if (!segment.ok()) return segment.status();
    min_base = segment.value()->next_offset();
    size_bytes_ += segment.value()->size();
    segments_.emplace(bases[i], std::move(segment.value()));
  }
  if (segments_.empty()) {
    const std::int64_t base = persisted_start.value_or(0);
    Result<std::shared_ptr<Segment>> segment = Segment::Create(dir_, base);
    if (!segment.ok()) return segment.status();
    segments_.emplace(base, std::move(segment.value()));
  }
  next_offset_ = active().next_offset();
  log_start_offset_ = std::min(
      std::max(segments_.begin()->first, persisted_start.value_or(0)), next_offset_);
  if (Status s = LoadProducerState(now); !s.ok()) return s;

  // Whatever recovery kept or rebuilt is made durable, and the marker removed durably, before
  // anything new is appended: a crash from here on must trigger a full scan.
  if (Status s = active().SyncAll(); !s.ok()) return s;
  if (clean) {
    if (Status s = RemoveFile(marker); !s.ok()) return s;
  }
  if (Status s = SyncDirectory(dir_); !s.ok()) return s;
  durable_end_offset_ = next_offset_;
  spdlog::info("{}: opened {} segment(s), offsets {}..{}, {} bytes{}", dir_, segments_.size(),
               log_start_offset_, next_offset_, size_bytes_, clean ? "" : " (full scan)");
  return Status::Ok();
}

Status PartitionLog::LoadProducerState(std::int64_t now_ms) {
  // Every batch from the first segment's base on is still in the log, so a snapshot from there
  // on plus the batches after it gives the whole state.
  Result<std::optional<txn::ProducerStateTable::Snapshot>> loaded =
      snapshots_.LoadNewest(segments_.begin()->first, next_offset_);
  if (!loaded.ok()) return loaded.status();
  std::int64_t from = segments_.begin()->first;
  if (loaded.value()) {
    from = loaded.value()->offset;
    producers_ = std::move(loaded.value()->table);
  }
  std::int64_t replayed = 0;
  for (const auto& [base, segment] : segments_) {
    if (segment->next_offset() <= from) continue;
    Status s = segment->ForEachHeader(from, [&](const kafka::RecordBatchHeader& h,
                                                std::string_view control) {
      producers_.Replay(h, now_ms,
                        h.is_control() ? kafka::MarkerCommitted(control) : std::nullopt);
      ++replayed;
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  if (!producers_.empty() || replayed > 0) {
    spdlog::info("{}: {} producer(s) from {} and {} batch header(s) after it", dir_,
                 producers_.size(), loaded.value() ? "a snapshot" : "nothing", replayed);
  }
  return Status::Ok();
}

void PartitionLog::SnapshotProducers() {
  if (Status s = snapshots_.Write(next_offset_, producers_); !s.ok()) {
    spdlog::warn("{}: producer snapshot at offset {} not written: {}", dir_, next_offset_,
                 s.ToString());
  }
}

void PartitionLog::SetConfig(const LogConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
}

LogConfig PartitionLog::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

Status PartitionLog::CheckUsable() const {
  if (closed_) return Status::Unavailable(fmt::format("{}: log is closed", dir_));
  return Status::Ok();
}

Result<AppendResult> PartitionLog::Append(std::string_view batches, txn::AppendOrigin origin) {
  Result<std::vector<kafka::RecordBatchHeader>> split = kafka::SplitBatches(batches);
  if (!split.ok()) return split.status();
  std::vector<kafka::RecordBatchHeader>& headers = split.value();
  if (headers.empty()) return Status::InvalidArgument("append of no record batches");

  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  if (failed_) {
    return Status::IoError(fmt::format("{}: an earlier write failed; reopen the log", dir_));
  }
  for (const kafka::RecordBatchHeader& h : headers) {
    if (h.size_in_bytes() > config_.max_message_bytes) {
      return Status::TooLarge(fmt::format("record batch of {} bytes exceeds max.message.bytes {}",
                                          h.size_in_bytes(), config_.max_message_bytes));
    }
  }

  AppendResult result;
  std::int64_t offset = next_offset_;
  for (kafka::RecordBatchHeader& h : headers) {
    h.base_offset = offset;
    offset = h.last_offset() + 1;
  }
  txn::AppendCheck check = producers_.Check(headers, origin);
  if (check.outcome == txn::AppendCheck::Outcome::kDuplicate) {
    result.first_offset = check.duplicate.first_offset;
    result.last_offset = check.duplicate.last_offset;
    result.max_timestamp = check.duplicate.max_timestamp;
    result.duplicate = true;
    return result;
  }
  if (check.outcome == txn::AppendCheck::Outcome::kRefused) {
    result.error = check.error;
    result.error_message = std::move(check.message);
    return result;
  }
  const std::int64_t now = clock_();
  if (Status s = WriteBatches(batches, headers, now, &result); !s.ok()) return s;
  producers_.Apply(std::move(check.updated), now);
  // Control batches appended as they are (copies of markers) close transactions as markers do.
  std::size_t position = 0;
  for (const kafka::RecordBatchHeader& h : headers) {
    if (h.is_control() && h.producer_id >= 0) {
      if (auto committed = kafka::MarkerCommitted(batches.substr(position))) {
        const txn::CompletedTxn done = producers_.ApplyMarker(
            h.producer_id, h.producer_epoch, -1, *committed, h.base_offset, now);
        if (done.first_offset >= 0) completing_.emplace_back(done.marker_offset, done.first_offset);
      }
    }
    position += static_cast<std::size_t>(h.size_in_bytes());
  }
  return result;
}

Result<AppendResult> PartitionLog::AppendMarker(std::int64_t producer_id,
                                                std::int16_t producer_epoch,
                                                std::int32_t coordinator_epoch, bool committed) {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  if (failed_) {
    return Status::IoError(fmt::format("{}: an earlier write failed; reopen the log", dir_));
  }
  AppendResult result;
  if (kafka::ErrorCode e = producers_.CheckMarker(producer_id, producer_epoch);
      e != kafka::ErrorCode::kNone) {
    result.error = e;
    result.error_message = fmt::format("producer {} has a newer epoch than {} in {}",
                                       producer_id, producer_epoch, dir_);
    return result;
  }
  const std::int64_t now = clock_();
  const std::string batch = kafka::BuildTxnMarkerBatch(
      kafka::TxnMarker{producer_id, producer_epoch, coordinator_epoch, committed, now});
  Result<kafka::RecordBatchHeader> header = kafka::ParseRecordBatchHeader(batch);
  if (!header.ok()) return header.status();
  std::vector<kafka::RecordBatchHeader> headers{header.value()};
  headers.front().base_offset = next_offset_;
  if (Status s = WriteBatches(batch, headers, now, &result); !s.ok()) return s;
  const txn::CompletedTxn done = producers_.ApplyMarker(producer_id, producer_epoch,
                                                        coordinator_epoch, committed,
                                                        result.first_offset, now);
  // Markers already durable need no remembering, also where nothing reads the stable offset.
  while (!completing_.empty() && completing_.front().first < durable_end_offset_.load()) {
    completing_.pop_front();
  }
  if (done.first_offset >= 0) completing_.emplace_back(done.marker_offset, done.first_offset);
  return result;
}

Status PartitionLog::WriteBatches(std::string_view batches,
                                  const std::vector<kafka::RecordBatchHeader>& headers,
                                  std::int64_t now, AppendResult* result) {
  std::int64_t offsets_needed = 0;
  for (const kafka::RecordBatchHeader& h : headers) {
    offsets_needed += std::int64_t{h.last_offset_delta} + 1;
  }
  const Segment& current = active();
  const std::int64_t segment_limit =
      std::min<std::int64_t>(config_.segment_bytes, std::numeric_limits<std::int32_t>::max());
  const bool too_big = current.size() + static_cast<std::int64_t>(batches.size()) > segment_limit;
  const bool too_old =
      current.roll_base_ms() && now - *current.roll_base_ms() >= config_.segment_ms;
  // Index entries hold offsets relative to the segment base as int32.
  const bool offsets_overflow = next_offset_ + offsets_needed - current.base_offset() >
                                std::numeric_limits<std::int32_t>::max();
  if (!current.empty() && (too_big || too_old || offsets_overflow)) {
    if (Status s = Roll(); !s.ok()) return s;
  }

  // Each batch is written as its new base offset and then the rest of it as received: the
  // request's bytes are not copied to stamp them.
  std::vector<std::array<char, 8>> base_offsets(headers.size());
  std::vector<std::string_view> pieces;
  pieces.reserve(2 * headers.size());
  result->first_offset = next_offset_;
  std::size_t position = 0;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const kafka::RecordBatchHeader& h = headers[i];
    const auto size = static_cast<std::size_t>(h.size_in_bytes());
    kafka::StampBaseOffset(base_offsets[i].data(), h.base_offset);
    pieces.emplace_back(base_offsets[i].data(), base_offsets[i].size());
    pieces.push_back(batches.substr(position + base_offsets[i].size(),
                                    size - base_offsets[i].size()));
    position += size;
    result->max_timestamp = std::max(result->max_timestamp, h.max_timestamp);
  }
  if (Status s = active().Append(pieces, headers, config_.index_interval_bytes, now); !s.ok()) {
    failed_ = true;
    spdlog::error("{}: append failed, refusing further appends: {}", dir_, s.ToString());
    return s;
  }
  next_offset_ += offsets_needed;
  size_bytes_ += static_cast<std::int64_t>(position);
  appended_bytes_.fetch_add(static_cast<std::int64_t>(position), std::memory_order_relaxed);
  result->last_offset = next_offset_ - 1;
  return Status::Ok();
}

std::int64_t PartitionLog::LastStableOffset(std::int64_t high_watermark) const {
  std::lock_guard lock(mu_);
  while (!completing_.empty() && completing_.front().first < high_watermark) {
    completing_.pop_front();
  }
  std::int64_t lso = high_watermark;
  if (auto first = producers_.FirstUnstableOffset()) lso = std::min(lso, *first);
  for (const auto& [marker, first] : completing_) lso = std::min(lso, first);
  return lso;
}

std::vector<txn::AbortedTxn> PartitionLog::AbortedTransactions(std::int64_t from,
                                                               std::int64_t to) const {
  std::lock_guard lock(mu_);
  return producers_.AbortedBetween(from, to);
}

Status PartitionLog::Roll() {
  if (Status s = active().Seal(); !s.ok()) return s;
  Result<std::shared_ptr<Segment>> segment = Segment::Create(dir_, next_offset_);
  if (!segment.ok()) return segment.status();
  unsynced_.push_back(segments_.rbegin()->second);
  directory_dirty_ = true;
  spdlog::info("{}: rolled to a new segment at offset {}", dir_, next_offset_);
  segments_.emplace(next_offset_, std::move(segment.value()));
  SnapshotProducers();
  return Status::Ok();
}

Status PartitionLog::Sync() {
  std::lock_guard sync_lock(sync_mu_);
  std::vector<std::shared_ptr<Segment>> to_sync;
  std::int64_t target = 0;
  std::int64_t target_bytes = 0;
  bool sync_directory = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Ok();  // Close synced everything
    target_bytes = appended_bytes_.load(std::memory_order_relaxed);
    if (target_bytes == synced_bytes_.load(std::memory_order_relaxed) && unsynced_.empty() &&
        !directory_dirty_ && durable_end_offset_.load() >= next_offset_) {
      return Status::Ok();  // nothing new since the last Sync
    }
    to_sync.swap(unsynced_);
    to_sync.push_back(segments_.rbegin()->second);
    target = next_offset_;
    sync_directory = directory_dirty_;
    directory_dirty_ = false;
  }
  Status status;
  for (const std::shared_ptr<Segment>& segment : to_sync) {
    status = segment->SyncLog();
    if (!status.ok()) break;
  }
  if (status.ok() && sync_directory) status = SyncDirectory(dir_);
  if (!status.ok()) {
    // After a failed fsync the kernel may have dropped the dirty pages: nothing appended since
    // the last good Sync can be trusted, so stop accepting writes.
    std::lock_guard lock(mu_);
    failed_ = true;
    spdlog::error("{}: sync failed, refusing further appends: {}", dir_, status.ToString());
    return status;
  }
  durable_end_offset_ = std::max(durable_end_offset_.load(), target);
  synced_bytes_.store(std::max(synced_bytes_.load(std::memory_order_relaxed), target_bytes),
                      std::memory_order_relaxed);
  return Status::Ok();
}

Result<ReadResult> PartitionLog::Read(std::int64_t offset, std::int32_t max_bytes,
                                      bool min_one_batch, std::int64_t upper_bound_offset) {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  if (offset < log_start_offset_ || offset > next_offset_) {
    return Status::OutOfRange(fmt::format("{}: offset {} is outside the log, {}..{}", dir_,
                                          offset, log_start_offset_, next_offset_));
  }
  ReadResult result;
  result.next_offset = offset;
  if (offset == next_offset_ || offset >= upper_bound_offset) return result;
  auto it = std::prev(segments_.upper_bound(offset));
  for (; it != segments_.end(); ++it) {
    const std::int64_t budget = std::max<std::int64_t>(0, max_bytes - result.bytes);
    Result<Segment::Slice> slice = it->second->Read(
        result.next_offset, budget, min_one_batch && result.bytes == 0, upper_bound_offset);
    if (!slice.ok()) return slice.status();
    const Segment::Slice& s = slice.value();
    if (s.length > 0) {
      result.ranges.push_back(
          kafka::FileRange{it->second->fd(), s.position, s.length, it->second});
      result.bytes += s.length;
      result.next_offset = s.next_offset;
    }
    if (s.stopped) break;
  }
  return result;
}

std::int64_t PartitionLog::log_start_offset() const {
  std::lock_guard lock(mu_);
  return log_start_offset_;
}

std::int64_t PartitionLog::log_end_offset() const {
  std::lock_guard lock(mu_);
  return next_offset_;
}

std::int64_t PartitionLog::size_bytes() const {
  std::lock_guard lock(mu_);
  return size_bytes_;
}

std::size_t PartitionLog::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

Result<std::optional<TimestampOffset>> PartitionLog::OffsetForTimestamp(std::int64_t timestamp) {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  for (const auto& [base, segment] : segments_) {
    if (segment->next_offset() <= log_start_offset_) continue;
    Result<std::optional<TimestampOffset>> found =
        segment->FindTimestamp(timestamp, log_start_offset_);
    if (!found.ok() || found.value()) return found;
  }
  return std::optional<TimestampOffset>();
}

std::optional<TimestampOffset> PartitionLog::MaxTimestampOffset() const {
  std::lock_guard lock(mu_);
  std::optional<TimestampOffset> best;
  for (const auto& [base, segment] : segments_) {
    if (segment->empty() || segment->next_offset() <= log_start_offset_) continue;
    if (!best || segment->max_timestamp() > best->timestamp) {
      best = TimestampOffset{std::max(segment->max_timestamp_offset(), log_start_offset_),
                             segment->max_timestamp()};
    }
  }
  return best;
}

Status PartitionLog::DeleteRecordsBefore(std::int64_t offset) {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  if (offset > next_offset_) {
    return Status::OutOfRange(fmt::format(
        "{}: cannot delete records before {}, past the log end {}", dir_, offset, next_offset_));
  }
  if (offset <= log_start_offset_) return Status::Ok();
  if (Status s = WriteFileDurably(dir_, std::string(kLogStartFile), fmt::format("{}\n", offset));
      !s.ok()) {
    return s;
  }
  log_start_offset_ = offset;
  // The active segment is never deleted, so one wholly below the new start is rolled first.
  if (!active().empty() && active().next_offset() <= offset) {
    if (Status s = Roll(); !s.ok()) return s;
  }
  while (segments_.size() > 1 && WhollyBelowStart(*segments_.begin()->second, log_start_offset_)) {
    if (Status s = RemoveOldestSegment("below the log start"); !s.ok()) return s;
  }
  return Status::Ok();
}

Status PartitionLog::ApplyRetention(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  auto expired = std::partition(pending_deletions_.begin(), pending_deletions_.end(),
                                [&](const PendingDeletion& d) {
                                  return now_ms - d.deleted_at_ms < config_.file_delete_delay_ms;
                                });
  for (auto it = expired; it != pending_deletions_.end(); ++it) {
    if (Status s = it->segment->RemoveFiles(); !s.ok()) return s;
  }
  pending_deletions_.erase(expired, pending_deletions_.end());

  // A compact-only topic keeps its data whatever its age and size.
  const bool limits_apply = config_.cleanup_policy != CleanupPolicy::kCompact;
  while (segments_.size() > 1) {
    const Segment& oldest = *segments_.begin()->second;
    std::string_view reason;
    if (WhollyBelowStart(oldest, log_start_offset_)) {
      reason = "below the log start";
    } else if (!limits_apply) {
      break;
    } else if (config_.retention_ms >= 0 &&
               oldest.max_timestamp() < now_ms - config_.retention_ms) {
      reason = "older than retention.ms";
    } else if (config_.retention_bytes >= 0 &&
               size_bytes_ - oldest.size() >= config_.retention_bytes) {
      reason = "beyond retention.bytes";
    } else {
      break;
    }
    if (Status s = RemoveOldestSegment(reason); !s.ok()) return s;
  }
  return Status::Ok();
}

// A segment that compaction emptied still starts at its base offset; it lies below the log start
// only once the start has moved past that base (DeleteRecords, retention).
bool PartitionLog::WhollyBelowStart(const Segment& segment, std::int64_t start) {
  return segment.next_offset() <= start && segment.base_offset() < start;
}

Status PartitionLog::RemoveOldestSegment(std::string_view reason) {
  std::shared_ptr<Segment> segment = segments_.begin()->second;
  if (Status s = segment->RenameForDeletion(); !s.ok()) return s;
  segments_.erase(segments_.begin());
  size_bytes_ -= segment->size();
  log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
  producers_.RemoveAbortedBelow(log_start_offset_);
  directory_dirty_ = true;
  // The producers of the removed batches stay known (as in Kafka, until they expire); only the
  // snapshots that the log no longer continues go.
  if (Status s = snapshots_.RemoveBelow(segments_.begin()->first); !s.ok()) {
    spdlog::warn("{}: removing old producer snapshots: {}", dir_, s.ToString());
  }
  spdlog::info("{}: deleting segment {} (offsets {}..{}): {}", dir_, segment->base_offset(),
               segment->base_offset(), segment->next_offset() - 1, reason);
  pending_deletions_.push_back({clock_(), std::move(segment)});
  return Status::Ok();
}

Status PartitionLog::Close() {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  closed_ = true;
  if (failed_) {
    return Status::IoError(fmt::format("{}: closed after a failed write; no clean marker", dir_));
  }
  if (Status s = active().Seal(); !s.ok()) return s;
  for (const auto& [base, segment] : segments_) {
    if (Status s = segment->SyncAll(); !s.ok()) return s;
  }
  SnapshotProducers();
  if (Status s = WriteFileDurably(dir_, std::string(kCleanShutdownFile), ""); !s.ok()) return s;
  durable_end_offset_ = next_offset_;
  segments_.clear();
  unsynced_.clear();
  pending_deletions_.clear();
  return Status::Ok();
}

std::size_t PartitionLog::ExpireProducers(std::int64_t now_ms, std::int64_t expiration_ms) {
  std::lock_guard lock(mu_);
  return producers_.RemoveExpired(now_ms, expiration_ms);
}

txn::ProducerStateTable PartitionLog::producer_state() const {
  std::lock_guard lock(mu_);
  return producers_;
}

Status PartitionLog::Delete() {
  std::lock_guard lock(mu_);
  if (Status s = CheckUsable(); !s.ok()) return s;
  closed_ = true;
  segments_.clear();
  unsynced_.clear();
  pending_deletions_.clear();
  return RemoveDirectoryTree(dir_);
}

}  // namespace tern::broker::storage
