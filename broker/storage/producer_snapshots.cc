#include "broker/storage/producer_snapshots.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/storage/file.h"

namespace tern::broker::storage {
namespace {

constexpr std::string_view kExtension = ".snapshot";
constexpr std::size_t kDigits = 20;

std::string NameOf(std::int64_t offset) { return fmt::format("{:020d}{}", offset, kExtension); }

}  // namespace

bool ProducerSnapshots::Adopt(std::string_view name) {
  if (name.size() != kDigits + kExtension.size() || !name.ends_with(kExtension)) return false;
  std::int64_t offset = 0;
  const char* end = name.data() + kDigits;
  auto [ptr, ec] = std::from_chars(name.data(), end, offset);
  if (ec != std::errc() || ptr != end || offset < 0) return false;
  offsets_.insert(offset);
  return true;
}

std::string ProducerSnapshots::PathOf(std::int64_t offset) const {
  return dir_ + "/" + NameOf(offset);
}

Status ProducerSnapshots::Remove(std::int64_t offset) {
  offsets_.erase(offset);
  return RemoveFile(PathOf(offset));
}

Result<std::optional<txn::ProducerStateTable::Snapshot>> ProducerSnapshots::LoadNewest(
    std::int64_t min_offset, std::int64_t max_offset) {
  const std::vector<std::int64_t> newest_first(offsets_.rbegin(), offsets_.rend());
  std::optional<txn::ProducerStateTable::Snapshot> found;
  for (const std::int64_t offset : newest_first) {
    if (offset < min_offset) break;
    Status problem;
    if (offset > max_offset) {
      problem = Status::OutOfRange(fmt::format("past the log end {}", max_offset));
    } else {
      Result<std::string> bytes = ReadWholeFile(PathOf(offset));
      if (!bytes.ok()) return bytes.status();
      Result<txn::ProducerStateTable::Snapshot> decoded =
          txn::ProducerStateTable::DecodeSnapshot(bytes.value());
      problem = decoded.status();
      if (problem.ok() && decoded.value().offset != offset) {
        problem = Status::Corruption(
            fmt::format("it says it was taken at offset {}", decoded.value().offset));
      }
      if (problem.ok()) {
        found = std::move(decoded).value();
        break;
      }
    }
    spdlog::warn("{}: ignoring producer snapshot {}: {}", dir_, PathOf(offset),
                 problem.ToString());
    if (Status s = Remove(offset); !s.ok()) return s;
  }
  // The log no longer holds the batches after these.
  if (Status s = RemoveBelow(min_offset); !s.ok()) return s;
  return found;
}

Status ProducerSnapshots::Write(std::int64_t offset, const txn::ProducerStateTable& table) {
  if (Status s = WriteFileDurably(dir_, NameOf(offset), table.EncodeSnapshot(offset)); !s.ok()) {
    return s;
  }
  offsets_.insert(offset);
  while (offsets_.size() > kKept) {
    if (Status s = Remove(*offsets_.begin()); !s.ok()) return s;
  }
  return Status::Ok();
}

Status ProducerSnapshots::RemoveBelow(std::int64_t offset) {
  while (!offsets_.empty() && *offsets_.begin() < offset) {
    if (Status s = Remove(*offsets_.begin()); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace tern::broker::storage
