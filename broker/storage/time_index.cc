#include "broker/storage/time_index.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/big_endian.h"

namespace tern::broker::storage {

Result<std::unique_ptr<TimeIndex>> TimeIndex::Load(const std::string& path,
                                                   std::int64_t relative_end) {
  Result<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& data = bytes.value();
  if (data.size() % kEntrySize != 0) {
    return Status::Corruption(fmt::format("{}: size {} is not a multiple of {}", path,
                                          data.size(), kEntrySize));
  }
  std::unique_ptr<TimeIndex> index(new TimeIndex(path));
  for (std::size_t i = 0; i < data.size(); i += kEntrySize) {
    const Entry e{LoadBigEndian<std::int64_t>(data.data() + i),
                  LoadBigEndian<std::int32_t>(data.data() + i + 8)};
    const bool increasing = index->entries_.empty() ||
                            (e.timestamp > index->entries_.back().timestamp &&
                             e.relative_offset >= index->entries_.back().relative_offset);
    if (e.relative_offset < 0 || e.relative_offset >= relative_end || !increasing) {
      return Status::Corruption(fmt::format("{}: entry {} ({}, {}) is out of order or range",
                                            path, i / kEntrySize, e.timestamp, e.relative_offset));
    }
    index->entries_.push_back(e);
  }
  Result<std::unique_ptr<File>> file = File::Open(path, /*create=*/false);
  if (!file.ok()) return file.status();
  index->file_ = std::move(file.value());
  return index;
}

std::unique_ptr<TimeIndex> TimeIndex::CreateEmpty(const std::string& path) {
  return std::unique_ptr<TimeIndex>(new TimeIndex(path));
}

void TimeIndex::MaybeAdd(Entry entry) {
  if (!entries_.empty() && entry.timestamp <= entries_.back().timestamp) return;
  entries_.push_back(entry);
  StoreBigEndian(pending_, entry.timestamp);
  StoreBigEndian(pending_, entry.relative_offset);
}

Status TimeIndex::Flush() {
  if (file_ == nullptr) {
    Result<std::unique_ptr<File>> file = File::CreateTruncated(path_);
    if (!file.ok()) return file.status();
    file_ = std::move(file.value());
    dirty_ = true;
  }
  if (pending_.empty()) return Status::Ok();
  if (Status s = file_->Append(pending_); !s.ok()) return s;
  pending_.clear();
  dirty_ = true;
  return Status::Ok();
}

Status TimeIndex::Sync() {
  if (Status s = Flush(); !s.ok()) return s;
  if (!dirty_) return Status::Ok();
  if (Status s = file_->DataSync(); !s.ok()) return s;
  dirty_ = false;
  return Status::Ok();
}

std::optional<TimeIndex::Entry> TimeIndex::LastBefore(std::int64_t timestamp) const {
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), timestamp,
      [](const Entry& e, std::int64_t value) { return e.timestamp < value; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

std::optional<TimeIndex::Entry> TimeIndex::last() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

}  // namespace tern::broker::storage
