// Wall-clock time in milliseconds since the Unix epoch: record timestamps, "last seen" times.
// Durations and deadlines use std::chrono::steady_clock instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace tern {

inline std::int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tern
