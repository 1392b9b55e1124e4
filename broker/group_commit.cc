#include "broker/group_commit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

namespace tern::broker {

GroupCommit::GroupCommit(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(options) {
  for (int i = 0; i < std::max(1, options_.sync_threads); ++i) {
    workers_.emplace_back([this] { SyncWorker(); });
  }
  thread_ = std::thread([this] { Run(); });
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  {
    std::lock_guard lock(round_mu_);
    workers_stopping_ = true;
  }
  round_wake_.notify_all();
  for (auto& w : workers_) w.join();
}

// Takes the round's next log, if any is left, and syncs it; `lock` holds round_mu_.
bool GroupCommit::SyncNext(std::unique_lock<std::mutex>& lock) {
  if (round_logs_ == nullptr || round_next_ >= round_logs_->size()) return false;
  const std::size_t i = round_next_++;
  storage::PartitionLog* log = (*round_logs_)[i];
  std::vector<Status>* results = round_results_;
  lock.unlock();
  Status s = log->Sync();
  lock.lock();
  (*results)[i] = std::move(s);
  if (++round_finished_ == round_logs_->size()) round_done_.notify_one();
  return true;
}

void GroupCommit::SyncWorker() {
  std::unique_lock lock(round_mu_);
  for (;;) {
    round_wake_.wait(lock, [this] {
      return workers_stopping_ || (round_logs_ != nullptr && round_next_ < round_logs_->size());
    });
    if (workers_stopping_) return;
    SyncNext(lock);
  }
}

std::vector<Status> GroupCommit::SyncAll(const std::vector<storage::PartitionLog*>& logs) {
  std::vector<Status> results(logs.size());
  if (logs.size() == 1) {
    results[0] = logs[0]->Sync();
    return results;
  }
  std::unique_lock lock(round_mu_);
  round_logs_ = &logs;
  round_results_ = &results;
  round_next_ = 0;
  round_finished_ = 0;
  // This thread syncs too, so a round of n logs needs n - 1 workers: waking more would only
  // have them find nothing left (a light round of a few partitions would pay every worker's
  // wake-up and sleep in context switches).
  const std::size_t helpers = std::min(logs.size() - 1, workers_.size());
  for (std::size_t i = 0; i < helpers; ++i) round_wake_.notify_one();
  while (SyncNext(lock)) {
  }
  round_done_.wait(lock, [&] { return round_finished_ == logs.size(); });
  round_logs_ = nullptr;
  round_results_ = nullptr;
  return results;
}

void GroupCommit::Enqueue(std::vector<std::shared_ptr<storage::PartitionLog>> logs,
                          std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Waiter{std::move(logs), std::move(done)});
  }
  wake_.notify_one();
}

std::uint64_t GroupCommit::rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

std::uint64_t GroupCommit::spaced_rounds() const {
  std::lock_guard lock(mu_);
  return spaced_rounds_;
}

void GroupCommit::Run() {
  bool busy = false;  // the last round wrote out at least busy_round_bytes
  std::chrono::steady_clock::time_point last_start;
  for (;;) {
    std::vector<Waiter> batch;
    {
      std::unique_lock lock(mu_);
      const bool spaced = busy && options_.busy_round_interval.count() > 0;
      if (spaced) {
        // Let the next round's requests gather; stopping cuts the wait short.
        wake_.wait_until(lock, last_start + options_.busy_round_interval,
                         [this] { return stopping_; });
      }
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
      ++rounds_;
      if (spaced) ++spaced_rounds_;
    }
    // One Sync per distinct log covers every waiter of this round; the logs sync in parallel.
    std::vector<storage::PartitionLog*> distinct;
    std::unordered_map<storage::PartitionLog*, Status> synced;
    for (const auto& w : batch) {
      for (const auto& log : w.logs) {
        if (synced.emplace(log.get(), Status::Ok()).second) distinct.push_back(log.get());
      }
    }
    std::int64_t bytes = 0;
    for (const storage::PartitionLog* log : distinct) bytes += log->unsynced_bytes();
    busy = bytes >= options_.busy_round_bytes;
    last_start = std::chrono::steady_clock::now();
    auto results = SyncAll(distinct);
    for (std::size_t i = 0; i < distinct.size(); ++i) synced[distinct[i]] = std::move(results[i]);
    for (auto& w : batch) {
      Status result;
      for (const auto& log : w.logs) {
        const Status& s = synced[log.get()];
        if (!s.ok()) {
          spdlog::error("fsync of {} failed: {}", log->dir(), s.ToString());
          result = s;
          break;
        }
      }
      w.done(result);
    }
  }
}

}  // namespace tern::broker
