// GroupCommit: makes appended data durable for many requests with one fsync per partition per
// round. Produce handlers append on the network thread, then wait here; a flusher thread takes
// every waiter queued since its last round, syncs each partition they touched once, and
// completes them all. Under load a round's fsyncs cover all requests that arrived meanwhile.
// The partitions of a round are synced in parallel by the flusher and up to `sync_threads`
// workers (only as many are woken as the round has partitions to share out), so a round lasts
// about one fsync rather than one per partition.
// Under heavy writing (a round that wrote out at least `busy_round_bytes`) the next round
// starts no sooner than `busy_round_interval` after the last one began, so that each fsync
// covers more data: far fewer fsyncs, and far less CPU, for the same bytes. Light load — a
// round of less — is synced at once, so a lone request never waits for the interval.
// Completions run on the executor given to the constructor (the network thread).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/storage/partition_log.h"
#include "common/status.h"

namespace tern::broker {

class GroupCommit {
 public:
  struct Options {
    int sync_threads = 8;
    std::chrono::microseconds busy_round_interval{2000};  // 0: rounds back to back always
    std::int64_t busy_round_bytes = 64 * 1024;
  };

  explicit GroupCommit(asio::any_io_executor executor) : GroupCommit(std::move(executor), {}) {}
  GroupCommit(asio::any_io_executor executor, Options options);
  ~GroupCommit();  // stops the thread after completing what is queued
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Completes with the first sync error, or OK once every log's data appended before the call
  // is on disk.
  template <typename Token>
  auto WaitDurable(std::vector<std::shared_ptr<storage::PartitionLog>> logs, Token&& token) {
    return asio::async_initiate<Token, void(Status)>(
        [this](auto handler, std::vector<std::shared_ptr<storage::PartitionLog>> to_sync) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          Enqueue(std::move(to_sync), [executor = executor_, shared](Status s) {
            asio::post(executor, [shared, s]() mutable { (*shared)(s); });
          });
        },
        token, std::move(logs));
  }

  std::uint64_t rounds() const;  // fsync rounds so far, for metrics and tests
  std::uint64_t spaced_rounds() const;  // rounds begun after a heavy one, so spaced

 private:
  struct Waiter {
    std::vector<std::shared_ptr<storage::PartitionLog>> logs;
    std::function<void(Status)> done;
  };

  void Enqueue(std::vector<std::shared_ptr<storage::PartitionLog>> logs,
               std::function<void(Status)> done);
  void Run();
  void SyncWorker();
  bool SyncNext(std::unique_lock<std::mutex>& lock);
  // Syncs every log in `logs` using the workers; returns each one's result, in order.
  std::vector<Status> SyncAll(const std::vector<storage::PartitionLog*>& logs);

  asio::any_io_executor executor_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Waiter> queue_;
  bool stopping_ = false;
  std::uint64_t rounds_ = 0;
  std::uint64_t spaced_rounds_ = 0;
  std::thread thread_;

  // The current round's work for the sync workers.
  std::mutex round_mu_;
  std::condition_variable round_wake_;
  std::condition_variable round_done_;
  const std::vector<storage::PartitionLog*>* round_logs_ = nullptr;
  std::vector<Status>* round_results_ = nullptr;
  std::size_t round_next_ = 0;
  std::size_t round_finished_ = 0;
  bool workers_stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tern::broker
