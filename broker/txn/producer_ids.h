// ProducerIdAllocator: hands out producer ids (InitProducerId) that are unique over the life of
// a data directory, across restarts and crashes. Ids are reserved in blocks: before the first id
// of a block is handed out, the end of the block is written durably to <data_dir>/producer-ids
// (temp file, fsync, rename, fsync of the folder). A restarted broker continues after the last
// reserved block, so an id is never issued twice; the unused rest of a block is skipped.
//
// Thread-safe (one mutex); the disk is touched once per block.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"

namespace tern::broker::txn {

class ProducerIdAllocator {
 public:
  static constexpr std::int64_t kDefaultBlockSize = 1000;

  // Reads the reservation file of `data_dir` (none: ids start at 0). Corruption when the file
  // exists but cannot be read as a reservation: which ids were issued is then unknown, and
  // guessing could issue one twice. IoError when it cannot be read.
  static Result<std::unique_ptr<ProducerIdAllocator>> Open(
      const std::string& data_dir, std::int64_t block_size = kDefaultBlockSize);

  // The next unused id. IoError when a new block cannot be reserved durably (no id is handed
  // out then; a later call tries again).
  Result<std::int64_t> Next();

  // The end of the reserved range: every id handed out so far is below it.
  std::int64_t reserved_end() const;

 private:
  ProducerIdAllocator(std::string data_dir, std::int64_t block_size, std::int64_t start)
      : data_dir_(std::move(data_dir)), block_size_(block_size), next_(start), reserved_end_(start) {}

  const std::string data_dir_;
  const std::int64_t block_size_;
  mutable std::mutex mu_;
  std::int64_t next_;
  std::int64_t reserved_end_;
};

}  // namespace tern::broker::txn
