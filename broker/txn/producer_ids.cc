#include "broker/txn/producer_ids.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/storage/file.h"

namespace tern::broker::txn {
namespace {

// "<reserved end>\n": every id below it may have been handed out.
constexpr std::string_view kReservationFile = "producer-ids";

}  // namespace

Result<std::unique_ptr<ProducerIdAllocator>> ProducerIdAllocator::Open(const std::string& data_dir,
                                                                       std::int64_t block_size) {
  if (block_size < 1) return Status::InvalidArgument("producer id block size must be positive");
  const std::string path = data_dir + "/" + std::string(kReservationFile);
  std::int64_t start = 0;
  Result<std::string> text = storage::ReadWholeFile(path);
  if (text.ok()) {
    const std::string& t = text.value();
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), start);
    if (ec != std::errc() || start < 0 || ptr == t.data() + t.size() || *ptr != '\n' ||
        ptr + 1 != t.data() + t.size()) {
      return Status::Corruption(fmt::format(
          "{} does not hold a producer id reservation; which producer ids were issued is "
          "unknown (write a number above every id ever issued, then a newline, to recover)",
          path));
    }
  } else if (text.status().code() != Status::Code::kNotFound) {
    return text.status();
  }
  return std::unique_ptr<ProducerIdAllocator>(new ProducerIdAllocator(data_dir, block_size, start));
}

Result<std::int64_t> ProducerIdAllocator::Next() {
  std::lock_guard lock(mu_);
  if (next_ == reserved_end_) {
    if (reserved_end_ > std::numeric_limits<std::int64_t>::max() - block_size_) {
      return Status::OutOfRange("producer ids are exhausted");
    }
    const std::int64_t end = reserved_end_ + block_size_;
    if (Status s = storage::WriteFileDurably(data_dir_, std::string(kReservationFile),
                                             fmt::format("{}\n", end));
        !s.ok()) {
      return s;
    }
    reserved_end_ = end;
    spdlog::info("reserved producer ids {}..{}", next_, end - 1);
  }
  return next_++;
}

std::int64_t ProducerIdAllocator::reserved_end() const {
  std::lock_guard lock(mu_);
  return reserved_end_;
}

}  // namespace tern::broker::txn
