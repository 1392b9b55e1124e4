// DataNotifier: wakes long-polling Fetch requests when new data is appended to a partition
// they wait on. A waiter is a timer set to its deadline; Notify cancels the timers of every
// waiter on that partition, so the Fetch wakes early and reads again. Network thread only.
#pragma once

#include <asio/steady_timer.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace tern::broker {

class DataNotifier {
 public:
  using Key = std::pair<std::string, std::int32_t>;  // topic, partition

  void Add(const Key& key, asio::steady_timer* timer) { waiters_[key].insert(timer); }
  void Remove(const Key& key, asio::steady_timer* timer) {
    auto it = waiters_.find(key);
    if (it == waiters_.end()) return;
    it->second.erase(timer);
    if (it->second.empty()) waiters_.erase(it);
  }
  void Notify(const Key& key) {
    auto it = waiters_.find(key);
    if (it == waiters_.end()) return;
    for (auto* timer : it->second) timer->cancel();
  }

 private:
  std::map<Key, std::set<asio::steady_timer*>> waiters_;
};

}  // namespace tern::broker
