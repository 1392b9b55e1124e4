#include "broker/storage/segment.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/big_endian.h"

namespace tern::broker::storage {
namespace {

using kafka::RecordBatchHeader;

constexpr std::size_t kReadChunk = 64 * 1024;
// An invalid tail longer than this is not treated as a torn write: a single append is far
// smaller, so that much damage is reported as corruption instead of silently cut off.
constexpr std::int64_t kMaxTornTail = 64 * 1024 * 1024;

// Walks the batches of a log file front to back through a read buffer. With `validate`, each
// batch is checked whole (CRC included); otherwise only its header and framing.
class BatchCursor {
 public:
  BatchCursor(const File& file, std::int64_t position, std::int64_t end, bool validate)
      : file_(file), pos_(position), end_(end), validate_(validate) {}

  // True with *header filled and the cursor advanced; false at the end. An invalid batch gives
  // Corruption and leaves position() at it; a failed read gives IoError.
  Result<bool> Next(RecordBatchHeader* header) {
    if (pos_ >= end_) return false;
    const std::int64_t remaining = end_ - pos_;
    if (remaining < static_cast<std::int64_t>(kafka::kRecordBatchHeaderSize)) {
      return Invalid(fmt::format("partial batch header, {} bytes", remaining));
    }
    Result<std::string_view> head = View(pos_, kafka::kRecordBatchHeaderSize);
    if (!head.ok()) return head.status();
    Result<RecordBatchHeader> parsed = kafka::ParseRecordBatchHeader(head.value());
    if (!parsed.ok()) return Invalid(parsed.status().message());
    const RecordBatchHeader& h = parsed.value();
    if (h.magic != kafka::kRecordBatchMagic) return Invalid(fmt::format("magic {}", h.magic));
    if (h.batch_length < kafka::kMinBatchLength || h.size_in_bytes() > remaining) {
      return Invalid(fmt::format("batch length {} with {} bytes left", h.batch_length, remaining));
    }
    if (validate_) {
      Result<std::string_view> whole = View(pos_, static_cast<std::size_t>(h.size_in_bytes()));
      if (!whole.ok()) return whole.status();
      const Status valid = kafka::ValidateRecordBatch(whole.value());
      if (!valid.ok()) return Invalid(valid.message());
    }
    *header = h;
    pos_ += h.size_in_bytes();
    return true;
  }

  std::int64_t position() const { return pos_; }

  // The whole batch Next just returned.
  Result<std::string_view> LastBatch(const RecordBatchHeader& header) {
    const auto size = static_cast<std::size_t>(header.size_in_bytes());
    return View(pos_ - header.size_in_bytes(), size);
  }

 private:
  Status Invalid(std::string_view what) const {
    return Status::Corruption(
        fmt::format("{}: invalid record batch at byte {}: {}", file_.path(), pos_, what));
  }

  Result<std::string_view> View(std::int64_t pos, std::size_t n) {
    const auto buffered_end = buf_pos_ + static_cast<std::int64_t>(buf_.size());
    if (pos < buf_pos_ || pos + static_cast<std::int64_t>(n) > buffered_end) {
      const auto len = static_cast<std::size_t>(
          std::min<std::int64_t>(std::max(n, kReadChunk), end_ - pos));
      buf_.resize(len);
      buf_pos_ = pos;
      if (Status s = file_.ReadAt(pos, len, buf_.data()); !s.ok()) {
        buf_.clear();
        return s;
      }
    }
    return std::string_view(buf_).substr(static_cast<std::size_t>(pos - buf_pos_), n);
  }

  const File& file_;
  std::int64_t pos_;
  const std::int64_t end_;
  const bool validate_;
  std::string buf_;
  std::int64_t buf_pos_ = 0;
};

// Whether a valid batch starts anywhere in (from, end): if so, the invalid bytes at `from` are
// damage in the middle of the log, not a torn tail.
Result<bool> ValidBatchFollows(const File& file, std::int64_t from, std::int64_t end) {
  if (end - from > kMaxTornTail) return true;
  std::string tail(static_cast<std::size_t>(end - from), '\0');
  if (Status s = file.ReadAt(from, tail.size(), tail.data()); !s.ok()) return s;
  const std::string_view data(tail);
  for (std::size_t q = 1; q + kafka::kRecordBatchHeaderSize <= data.size(); ++q) {
    if (data[q + kafka::kMagicPosition] != kafka::kRecordBatchMagic) continue;
    const auto length = LoadBigEndian<std::int32_t>(data.data() + q + kafka::kBatchLengthPosition);
    if (length < kafka::kMinBatchLength) continue;
    const std::size_t size = kafka::kRecordBatchLogOverhead + static_cast<std::size_t>(length);
    if (size > data.size() - q) continue;
    if (kafka::ValidateRecordBatch(data.substr(q, size)).ok()) return true;
  }
  return false;
}

}  // namespace

std::string SegmentPath(const std::string& dir, std::int64_t base_offset,
                        std::string_view extension) {
  return fmt::format("{}/{:020d}{}", dir, base_offset, extension);
}

Result<std::shared_ptr<Segment>> Segment::Create(const std::string& dir, std::int64_t base_offset,
                                                 std::string_view suffix) {
  auto path = [&](std::string_view extension) {
    return SegmentPath(dir, base_offset, extension) + std::string(suffix);
  };
  Result<std::unique_ptr<File>> log = File::CreateTruncated(path(".log"));
  if (!log.ok()) return log.status();
  std::shared_ptr<Segment> segment(new Segment(base_offset, std::move(log.value())));
  segment->offset_index_ = OffsetIndex::CreateEmpty(path(".index"));
  segment->time_index_ = TimeIndex::CreateEmpty(path(".timeindex"));
  if (Status s = segment->FlushIndexes(); !s.ok()) return s;
  return segment;
}

Result<std::shared_ptr<Segment>> Segment::Recover(const std::string& dir,
                                                  std::int64_t base_offset,
                                                  const RecoverOptions& options) {
  Result<std::unique_ptr<File>> log =
      File::Open(SegmentPath(dir, base_offset, ".log"), /*create=*/false);
  if (!log.ok()) return log.status();
  Result<std::int64_t> size = log.value()->Size();
  if (!size.ok()) return size.status();
  std::shared_ptr<Segment> segment(new Segment(base_offset, std::move(log.value())));
  segment->size_ = size.value();
  if (options.trust_indexes) {
    const Status loaded = segment->LoadIndexes(options);
    if (loaded.ok()) return segment;
    if (loaded.code() == Status::Code::kIoError) return loaded;
    spdlog::warn("rebuilding the indexes of {}: {}", segment->log_path(), loaded.message());
  }
  if (Status s = segment->ScanAndRebuild(options); !s.ok()) return s;
  return segment;
}

Status Segment::LoadIndexes(const RecoverOptions& options) {
  const std::string dir = log_->path().substr(0, log_->path().rfind('/'));
  Result<std::unique_ptr<OffsetIndex>> offsets =
      OffsetIndex::Load(SegmentPath(dir, base_offset_, ".index"), size_);
  if (!offsets.ok()) return offsets.status();
  // Only the batches after the last index entry need reading to find where the segment ends.
  std::int64_t position = 0;
  std::int64_t expected_base = std::max(base_offset_, options.min_base_offset);
  // An index entry names the exact base offset of the batch at its position.
  bool exact = false;
  if (!offsets.value()->entries().empty()) {
    const OffsetIndex::Entry last = offsets.value()->entries().back();
    position = last.position;
    expected_base = base_offset_ + last.relative_offset;
    exact = true;
  }
  BatchCursor cursor(*log_, position, size_, /*validate=*/false);
  RecordBatchHeader h;
  std::int64_t tail_max_timestamp = -1;
  std::int64_t tail_max_offset = -1;
  for (;;) {
    Result<bool> next = cursor.Next(&h);
    if (!next.ok()) return next.status();
    if (!next.value()) break;
    if (exact ? h.base_offset != expected_base : h.base_offset < expected_base) {
      return Status::Corruption(fmt::format("{}: batch at byte {} has base offset {}, expected {}",
                                            log_path(), cursor.position() - h.size_in_bytes(),
                                            h.base_offset, expected_base));
    }
    exact = false;
    expected_base = h.last_offset() + 1;
    if (h.max_timestamp > tail_max_timestamp) {
      tail_max_timestamp = h.max_timestamp;
      tail_max_offset = h.base_offset;
    }
  }
  next_offset_ = std::max(expected_base, base_offset_);
  Result<std::unique_ptr<TimeIndex>> times =
      TimeIndex::Load(SegmentPath(dir, base_offset_, ".timeindex"), next_offset_ - base_offset_);
  if (!times.ok()) return times.status();
  if (std::optional<TimeIndex::Entry> last = times.value()->last()) {
    max_timestamp_ = last->timestamp;
    max_timestamp_offset_ = base_offset_ + last->relative_offset;
  }
  if (tail_max_timestamp > max_timestamp_) {
    max_timestamp_ = tail_max_timestamp;
    max_timestamp_offset_ = tail_max_offset;
  }
  bytes_since_offset_entry_ = size_ - position;
  bytes_since_time_entry_ = bytes_since_offset_entry_;
  offset_index_ = std::move(offsets.value());
  time_index_ = std::move(times.value());
  return Status::Ok();
}

Status Segment::ScanAndRebuild(const RecoverOptions& options) {
  const std::string dir = log_->path().substr(0, log_->path().rfind('/'));
  offset_index_ = OffsetIndex::CreateEmpty(SegmentPath(dir, base_offset_, ".index"));
  time_index_ = TimeIndex::CreateEmpty(SegmentPath(dir, base_offset_, ".timeindex"));
  const std::int64_t file_size = size_;
  size_ = 0;
  std::int64_t expected_base = std::max(base_offset_, options.min_base_offset);
  BatchCursor cursor(*log_, 0, file_size, /*validate=*/true);
  RecordBatchHeader h;
  for (;;) {
    const std::int64_t position = cursor.position();
    Result<bool> next = cursor.Next(&h);
    Status invalid;
    if (!next.ok()) {
      if (next.status().code() != Status::Code::kCorruption) return next.status();
      invalid = next.status();
    } else if (!next.value()) {
      break;
    } else if (h.base_offset < expected_base ||
               h.last_offset() - base_offset_ > std::numeric_limits<std::int32_t>::max()) {
      invalid = Status::Corruption(
          fmt::format("{}: invalid record batch at byte {}: offsets {}..{} do not follow {}",
                      log_path(), position, h.base_offset, h.last_offset(), expected_base - 1));
    }
    if (!invalid.ok()) {
      if (!options.is_last) return invalid;
      Result<bool> follows = ValidBatchFollows(*log_, position, file_size);
      if (!follows.ok()) return follows.status();
      if (follows.value()) {
        return Status::Corruption(invalid.message() +
                                  "; data follows it, so this is not a torn write");
      }
      spdlog::warn("{}: truncating {} bytes of torn tail at byte {} ({})", log_path(),
                   file_size - position, position, invalid.message());
      if (Status s = log_->Truncate(position); !s.ok()) return s;
      break;
    }
    Track(h, position, options.index_interval_bytes);
    expected_base = h.last_offset() + 1;
    if (!roll_base_ms_) roll_base_ms_ = std::min(h.max_timestamp, options.now_ms);
    size_ = cursor.position();
  }
  // Seal the rebuilt time index so its last entry is the segment's maximum.
  return Seal();
}

void Segment::Track(const RecordBatchHeader& h, std::int64_t position,
                    std::int32_t index_interval_bytes) {
  const auto relative = static_cast<std::int32_t>(h.base_offset - base_offset_);
  if (bytes_since_offset_entry_ >= index_interval_bytes) {
    offset_index_->Add({relative, static_cast<std::int32_t>(position)});
    bytes_since_offset_entry_ = 0;
  }
  bytes_since_offset_entry_ += h.size_in_bytes();
  if (h.max_timestamp > max_timestamp_) {
    max_timestamp_ = h.max_timestamp;
    max_timestamp_offset_ = h.base_offset;
    if (bytes_since_time_entry_ >= index_interval_bytes) {
      time_index_->MaybeAdd({max_timestamp_, relative});
      bytes_since_time_entry_ = 0;
    }
  }
  bytes_since_time_entry_ += h.size_in_bytes();
  next_offset_ = h.last_offset() + 1;
}

Status Segment::FlushIndexes() {
  if (Status s = offset_index_->Flush(); !s.ok()) return s;
  return time_index_->Flush();
}

Status Segment::Append(std::string_view batches, const std::vector<RecordBatchHeader>& headers,
                       std::int32_t index_interval_bytes, std::int64_t now_ms) {
  return Append(std::span<const std::string_view>(&batches, 1), headers, index_interval_bytes,
                now_ms);
}

Status Segment::Append(std::span<const std::string_view> pieces,
                       const std::vector<RecordBatchHeader>& headers,
                       std::int32_t index_interval_bytes, std::int64_t now_ms) {
  if (Status s = log_->Append(pieces); !s.ok()) return s;
  std::int64_t position = size_;
  for (const RecordBatchHeader& h : headers) {
    Track(h, position, index_interval_bytes);
    position += h.size_in_bytes();
  }
  size_ = position;
  if (!roll_base_ms_) roll_base_ms_ = now_ms;
  return FlushIndexes();
}

Result<Segment::Slice> Segment::Read(std::int64_t offset, std::int64_t max_bytes,
                                     bool allow_oversized_first, std::int64_t upper_bound) const {
  Slice slice;
  BatchCursor cursor(*log_, offset_index_->Lookup(offset - base_offset_), size_,
                     /*validate=*/false);
  RecordBatchHeader h;
  for (;;) {
    const std::int64_t position = cursor.position();
    Result<bool> next = cursor.Next(&h);
    if (!next.ok()) return next.status();
    if (!next.value()) break;
    if (h.last_offset() < offset) continue;
    if (h.last_offset() >= upper_bound) {
      slice.stopped = true;
      break;
    }
    const bool fits = slice.length + h.size_in_bytes() <= max_bytes;
    if (!fits && !(slice.length == 0 && allow_oversized_first)) {
      slice.stopped = true;
      break;
    }
    if (slice.length == 0) {
      slice.position = position;
      slice.first_offset = h.base_offset;
    }
    slice.length += h.size_in_bytes();
    slice.next_offset = h.last_offset() + 1;
  }
  return slice;
}

Result<std::optional<TimestampOffset>> Segment::FindTimestamp(std::int64_t timestamp,
                                                              std::int64_t min_offset) const {
  if (max_timestamp_ < timestamp) return std::optional<TimestampOffset>();
  std::int64_t start = 0;
  if (std::optional<TimeIndex::Entry> before = time_index_->LastBefore(timestamp)) {
    start = offset_index_->Lookup(before->relative_offset);
  }
  start = std::max(start, offset_index_->Lookup(min_offset - base_offset_));
  BatchCursor cursor(*log_, start, size_, /*validate=*/false);
  RecordBatchHeader h;
  for (;;) {
    Result<bool> next = cursor.Next(&h);
    if (!next.ok()) return next.status();
    if (!next.value()) return std::optional<TimestampOffset>();
    if (h.last_offset() >= min_offset && h.max_timestamp >= timestamp) {
      return std::optional<TimestampOffset>(
          TimestampOffset{std::max(h.base_offset, min_offset), h.max_timestamp});
    }
  }
}

Status Segment::ForEachBatch(
    const std::function<Status(const RecordBatchHeader&, std::string_view)>& fn) const {
  BatchCursor cursor(*log_, 0, size_, /*validate=*/false);
  RecordBatchHeader h;
  for (;;) {
    Result<bool> next = cursor.Next(&h);
    if (!next.ok()) return next.status();
    if (!next.value()) return Status::Ok();
    Result<std::string_view> batch = cursor.LastBatch(h);
    if (!batch.ok()) return batch.status();
    if (Status s = fn(h, batch.value()); !s.ok()) return s;
  }
}

Status Segment::ForEachHeader(
    std::int64_t from_offset,
    const std::function<Status(const RecordBatchHeader&, std::string_view)>& fn) const {
  const std::int64_t start =
      offset_index_->Lookup(std::max<std::int64_t>(0, from_offset - base_offset_));
  BatchCursor cursor(*log_, start, size_, /*validate=*/false);
  RecordBatchHeader h;
  for (;;) {
    Result<bool> next = cursor.Next(&h);
    if (!next.ok()) return next.status();
    if (!next.value()) return Status::Ok();
    if (h.base_offset < from_offset) continue;
    std::string_view control;
    if (h.is_control()) {
      Result<std::string_view> whole = cursor.LastBatch(h);
      if (!whole.ok()) return whole.status();
      control = whole.value();
    }
    if (Status s = fn(h, control); !s.ok()) return s;
  }
}

Status Segment::SyncLog() { return log_->DataSync(); }

Status Segment::Seal() {
  if (max_timestamp_ >= 0) {
    time_index_->MaybeAdd(
        {max_timestamp_, static_cast<std::int32_t>(max_timestamp_offset_ - base_offset_)});
  }
  return FlushIndexes();
}

Status Segment::SyncAll() {
  if (Status s = SyncLog(); !s.ok()) return s;
  if (Status s = offset_index_->Sync(); !s.ok()) return s;
  return time_index_->Sync();
}

Status Segment::RenameForDeletion() {
  for (File* file : {log_.get(), offset_index_->file(), time_index_->file()}) {
    if (file == nullptr) continue;
    const std::string renamed = file->path() + ".deleted";
    if (Status s = RenameFile(file->path(), renamed); !s.ok()) return s;
    file->set_path(renamed);
  }
  return Status::Ok();
}

Status Segment::Install(std::string_view suffix) {
  for (File* file : {log_.get(), offset_index_->file(), time_index_->file()}) {
    if (file == nullptr || !file->path().ends_with(suffix)) continue;
    std::string installed = file->path().substr(0, file->path().size() - suffix.size());
    if (Status s = RenameFile(file->path(), installed); !s.ok()) return s;
    file->set_path(std::move(installed));
  }
  return Status::Ok();
}

Status Segment::RemoveFiles() {
  for (File* file : {log_.get(), offset_index_->file(), time_index_->file()}) {
    if (file == nullptr) continue;
    if (Status s = RemoveFile(file->path()); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace tern::broker::storage
