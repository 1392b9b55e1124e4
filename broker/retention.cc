#include "broker/retention.h"

#include <spdlog/spdlog.h>

namespace tern::broker {

Retention::Retention(const Topics& topics, std::chrono::milliseconds interval,
                     std::int64_t producer_id_expiration_ms)
    : topics_(topics),
      interval_(interval),
      producer_id_expiration_ms_(producer_id_expiration_ms),
      thread_([this] { Run(); }) {}

Retention::~Retention() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Retention::RunOnce() const {
  const std::int64_t now = storage::SystemClockMs();
  topics_.ForEachLog([this, now](storage::PartitionLog& log) {
    if (auto s = log.ApplyRetention(now); !s.ok()) {
      spdlog::warn("retention of {}: {}", log.dir(), s.ToString());
    }
    if (log.config().cleanup_policy != storage::CleanupPolicy::kDelete) {
      if (auto s = log.Compact(now); !s.ok()) {
        spdlog::warn("compaction of {}: {}", log.dir(), s.ToString());
      }
    }
    if (const std::size_t expired = log.ExpireProducers(now, producer_id_expiration_ms_)) {
      spdlog::info("{}: forgot {} producer(s) idle for producer_id_expiration_ms", log.dir(),
                   expired);
    }
  });
}

void Retention::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    RunOnce();
    lock.lock();
  }
}

}  // namespace tern::broker
