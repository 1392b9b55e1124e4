// OffsetIndex: the sparse offset index of one segment (<base>.index). Each 8-byte entry maps a
// batch's base offset, relative to the segment's base offset (int32, big-endian), to the byte
// position of that batch in the .log file (int32, big-endian); entries are added every
// index_interval_bytes. Lookups run on an in-memory copy; new entries are appended to the file
// by Flush. The log is the truth: a missing or inconsistent index is rebuilt from it.
// Owned by a Segment; the PartitionLog's mutex serialises every call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/storage/file.h"
#include "common/result.h"
#include "common/status.h"

namespace tern::broker::storage {

class OffsetIndex {
 public:
  struct Entry {
    std::int32_t relative_offset;
    std::int32_t position;
  };
  static constexpr std::size_t kEntrySize = 8;

  // Reads an existing index. Fails with NotFound when the file is missing and Corruption when
  // its entries are not strictly increasing or point at or past `log_size`.
  static Result<std::unique_ptr<OffsetIndex>> Load(const std::string& path,
                                                   std::int64_t log_size);
  // An empty index in memory; Flush creates the file, replacing whatever was there.
  static std::unique_ptr<OffsetIndex> CreateEmpty(const std::string& path);

  // REQUIRES: entry is past the last one in both fields.
  void Add(Entry entry);
  // Writes entries added since the last Flush to the file.
  Status Flush();
  Status Sync();

  // Byte position from which to scan for the batch holding `relative_offset`: the position of
  // the last entry at or below it, or 0.
  std::int64_t Lookup(std::int64_t relative_offset) const;
  const std::vector<Entry>& entries() const { return entries_; }
  File* file() { return file_.get(); }
  void set_path(std::string path) { path_ = std::move(path); }

 private:
  explicit OffsetIndex(std::string path) : path_(std::move(path)) {}

  std::string path_;
  std::unique_ptr<File> file_;  // null until the first Flush of a created index
  std::vector<Entry> entries_;
  std::string pending_;         // encoded entries not yet written
  bool dirty_ = false;          // written since the last Sync
};

}  // namespace tern::broker::storage
