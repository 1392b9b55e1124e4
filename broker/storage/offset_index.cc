#include "broker/storage/offset_index.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/big_endian.h"

namespace tern::broker::storage {

Result<std::unique_ptr<OffsetIndex>> OffsetIndex::Load(const std::string& path,
                                                       std::int64_t log_size) {
  Result<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& data = bytes.value();
  if (data.size() % kEntrySize != 0) {
    return Status::Corruption(fmt::format("{}: size {} is not a multiple of {}", path,
                                          data.size(), kEntrySize));
  }
  std::unique_ptr<OffsetIndex> index(new OffsetIndex(path));
  for (std::size_t i = 0; i < data.size(); i += kEntrySize) {
    const Entry e{LoadBigEndian<std::int32_t>(data.data() + i),
                  LoadBigEndian<std::int32_t>(data.data() + i + 4)};
    const bool increasing = index->entries_.empty() ||
                            (e.relative_offset > index->entries_.back().relative_offset &&
                             e.position > index->entries_.back().position);
    if (e.relative_offset < 0 || e.position < 0 || e.position >= log_size || !increasing) {
      return Status::Corruption(fmt::format("{}: entry {} ({}, {}) is out of order or range",
                                            path, i / kEntrySize, e.relative_offset, e.position));
    }
    index->entries_.push_back(e);
  }
  Result<std::unique_ptr<File>> file = File::Open(path, /*create=*/false);
  if (!file.ok()) return file.status();
  index->file_ = std::move(file.value());
  return index;
}

std::unique_ptr<OffsetIndex> OffsetIndex::CreateEmpty(const std::string& path) {
  return std::unique_ptr<OffsetIndex>(new OffsetIndex(path));
}

void OffsetIndex::Add(Entry entry) {
  entries_.push_back(entry);
  StoreBigEndian(pending_, entry.relative_offset);
  StoreBigEndian(pending_, entry.position);
}

Status OffsetIndex::Flush() {
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

Status OffsetIndex::Sync() {
  if (Status s = Flush(); !s.ok()) return s;
  if (!dirty_) return Status::Ok();
  if (Status s = file_->DataSync(); !s.ok()) return s;
  dirty_ = false;
  return Status::Ok();
}

std::int64_t OffsetIndex::Lookup(std::int64_t relative_offset) const {
  auto it = std::upper_bound(
      entries_.begin(), entries_.end(), relative_offset,
      [](std::int64_t value, const Entry& e) { return value < e.relative_offset; });
  if (it == entries_.begin()) return 0;
  return std::prev(it)->position;
}

}  // namespace tern::broker::storage
