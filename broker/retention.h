// Retention: a background thread that applies every partition's retention settings
// (retention.ms, retention.bytes, and removal of deleted segment files) every
// retention_check_interval_ms, as Kafka's log.retention.check.interval.ms does, compacts
// the partitions whose cleanup.policy includes compact (PartitionLog::Compact), and forgets
// producers idle for producer_id_expiration_ms (PartitionLog::ExpireProducers) in the same
// pass. Kafka's dedicated cleaner threads and min.cleanable.dirty.ratio are not modelled:
// every pass compacts, and a segment is rewritten only when compaction would change it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "broker/cluster/topics.h"

namespace tern::broker {

class Retention {
 public:
  Retention(const Topics& topics, std::chrono::milliseconds interval,
            std::int64_t producer_id_expiration_ms);
  ~Retention();  // stops the thread
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // One pass over every log now (also what the thread runs each interval).
  void RunOnce() const;

 private:
  void Run();

  const Topics& topics_;
  const std::chrono::milliseconds interval_;
  const std::int64_t producer_id_expiration_ms_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tern::broker
