// TimeIndex: the sparse time index of one segment (<base>.timeindex). Each 12-byte entry holds
// the segment's largest batch timestamp so far (int64, big-endian) and the base offset,
// relative to the segment's, of the batch that raised it to that value (int32, big-endian).
// Timestamps and offsets never decrease along the file, so every batch before an entry's batch
// has a max timestamp at or below the entry's. An entry is added when a batch raises the
// maximum and index_interval_bytes have passed, and always when the segment is sealed (roll,
// close), so the last entry is the segment's maximum. Rebuilt from the log when missing or
// inconsistent. Owned by a Segment; the PartitionLog's mutex serialises every call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/storage/file.h"
#include "common/result.h"
#include "common/status.h"

namespace tern::broker::storage {

class TimeIndex {
 public:
  struct Entry {
    std::int64_t timestamp;
    std::int32_t relative_offset;
  };
  static constexpr std::size_t kEntrySize = 12;

  // Reads an existing index. NotFound when missing; Corruption when entries decrease or an
  // offset is negative or at/after `relative_end` (the segment's next offset minus its base).
  static Result<std::unique_ptr<TimeIndex>> Load(const std::string& path,
                                                 std::int64_t relative_end);
  static std::unique_ptr<TimeIndex> CreateEmpty(const std::string& path);

  // Adds an entry unless it would not raise the last timestamp.
  void MaybeAdd(Entry entry);
  Status Flush();
  Status Sync();

  // The last entry whose timestamp is below `timestamp`: every batch up to and including its
  // batch is older than `timestamp`. nullopt when there is none.
  std::optional<Entry> LastBefore(std::int64_t timestamp) const;
  std::optional<Entry> last() const;
  const std::vector<Entry>& entries() const { return entries_; }
  File* file() { return file_.get(); }
  void set_path(std::string path) { path_ = std::move(path); }

 private:
  explicit TimeIndex(std::string path) : path_(std::move(path)) {}

  std::string path_;
  std::unique_ptr<File> file_;
  std::vector<Entry> entries_;
  std::string pending_;
  bool dirty_ = false;
};

}  // namespace tern::broker::storage
