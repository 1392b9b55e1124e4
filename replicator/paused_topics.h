// Source topics an operator paused (PauseFlows/ResumeFlows). The copy loop stops copying a
// paused topic at its next commit boundary (its committed progress stays) and starts it again
// from that progress when it is resumed. Held in memory: a process restart resumes everything.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tern::replicator {

class PausedTopics {
 public:
  void Pause(const std::vector<std::string>& topics) {
    std::lock_guard lock(mu_);
    bool changed = false;
    for (const auto& t : topics) changed |= topics_.insert(t).second;
    if (changed) ++version_;
  }
  void Resume(const std::vector<std::string>& topics) {
    std::lock_guard lock(mu_);
    bool changed = false;
    for (const auto& t : topics) changed |= topics_.erase(t) > 0;
    if (changed) ++version_;
  }
  bool Contains(const std::string& topic) const {
    std::lock_guard lock(mu_);
    return topics_.contains(topic);
  }
  // The paused topics and a version that changes with them.
  std::pair<std::set<std::string>, std::uint64_t> Current() const {
    std::lock_guard lock(mu_);
    return {topics_, version_};
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> topics_;
  std::uint64_t version_ = 0;
};

}  // namespace tern::replicator
