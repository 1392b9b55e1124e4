#include "broker/group_commit.h"

#include <spdlog/spdlog.h>

#include <unordered_map>

namespace tern::broker {

GroupCommit::GroupCommit(asio::any_io_executor executor)
    : executor_(std::move(executor)), thread_([this] { Run(); }) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
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

void GroupCommit::Run() {
  for (;;) {
    std::vector<Waiter> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
      ++rounds_;
    }
    // One Sync per distinct log covers every waiter of this round.
    std::unordered_map<storage::PartitionLog*, Status> synced;
    for (const auto& w : batch) {
      for (const auto& log : w.logs) {
        if (synced.count(log.get()) == 0) synced.emplace(log.get(), log->Sync());
      }
    }
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
