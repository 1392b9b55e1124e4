// Counters the engine keeps for metrics, the gRPC API and logs. Plain atomics: written by the
// replication threads, read by anyone.
#pragma once

#include <atomic>
#include <cstdint>

namespace tern::replicator {

struct EngineStats {
  std::atomic<std::int64_t> records_copied{0};
  std::atomic<std::int64_t> bytes_copied{0};       // keys + values + headers as consumed
  std::atomic<std::int64_t> records_skipped_loop{0};  // came from the target (provenance)
  // Records deleted by source retention before they were copied: a gap on the target.
  std::atomic<std::int64_t> records_lost{0};
  // A source partition whose end went below the replicated progress (topic re-created or
  // truncated at the source).
  std::atomic<std::int64_t> source_resets{0};
  std::atomic<std::int64_t> commits{0};        // transactions (or progress commits) done
  std::atomic<std::int64_t> restarts{0};       // copy loop restarts after an error
  std::atomic<std::int64_t> group_offsets_committed{0};
  std::atomic<std::int64_t> checkpoints_written{0};
  std::atomic<bool> copying{false};            // the copy loop is running
};

}  // namespace tern::replicator
