#include "broker/group/server_assignor.h"

#include <algorithm>
#include <utility>

namespace tern::broker::group {
namespace {

using Counts = std::map<std::string, std::size_t>;

// The member subscribed to `topic` holding the fewest partitions (the first by id on a tie);
// null when none is subscribed.
const std::string* LeastLoaded(const std::map<std::string, AssignorMember>& members,
                               const Counts& counts, const kafka::Uuid& topic) {
  const std::string* best = nullptr;
  for (const auto& [id, m] : members) {
    if (!m.topics.contains(topic)) continue;
    if (best == nullptr || counts.at(id) < counts.at(*best)) best = &id;
  }
  return best;
}

// Moves one partition from a member to another subscribed to its topic that holds at least two
// fewer; false when no such move exists (the assignment is as even as it can be).
bool MoveOne(const std::map<std::string, AssignorMember>& members, Counts& counts,
             std::map<std::string, TopicPartitions>& out) {
  std::vector<std::pair<std::size_t, std::string>> by_load;
  for (const auto& [id, n] : counts) by_load.emplace_back(n, id);
  std::sort(by_load.begin(), by_load.end(),
            [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (const auto& [load, from] : by_load) {
    TopicPartitions& held = out[from];
    for (auto& [topic, parts] : held) {
      if (parts.empty()) continue;
      const std::string* to = LeastLoaded(members, counts, topic);
      if (to == nullptr || counts[*to] + 2 > load) continue;
      const std::int32_t p = *parts.rbegin();
      parts.erase(p);
      out[*to][topic].insert(p);
      --counts[from];
      ++counts[*to];
      return true;
    }
  }
  return false;
}

std::map<std::string, TopicPartitions> Uniform(
    const std::map<std::string, AssignorMember>& members,
    const std::map<kafka::Uuid, std::int32_t>& partitions) {
  std::map<std::string, TopicPartitions> out;
  Counts counts;
  std::set<std::pair<kafka::Uuid, std::int32_t>> taken;
  for (const auto& [id, m] : members) {
    out[id];
    counts[id] = 0;
  }
  // The previous target, where it is still valid.
  for (const auto& [id, m] : members) {
    for (const auto& [topic, parts] : m.current) {
      const auto n = partitions.find(topic);
      if (n == partitions.end() || !m.topics.contains(topic)) continue;
      for (std::int32_t p : parts) {
        if (p < 0 || p >= n->second || !taken.emplace(topic, p).second) continue;
        out[id][topic].insert(p);
        ++counts[id];
      }
    }
  }
  // The partitions nobody kept, each to the least loaded member that can take it.
  for (const auto& [topic, n] : partitions) {
    for (std::int32_t p = 0; p < n; ++p) {
      if (taken.contains({topic, p})) continue;
      const std::string* to = LeastLoaded(members, counts, topic);
      if (to == nullptr) break;  // nobody subscribes to this topic
      out[*to][topic].insert(p);
      ++counts[*to];
    }
  }
  while (MoveOne(members, counts, out)) {
  }
  for (auto& [id, tp] : out) std::erase_if(tp, [](const auto& e) { return e.second.empty(); });
  return out;
}

std::map<std::string, TopicPartitions> Range(
    const std::map<std::string, AssignorMember>& members,
    const std::map<kafka::Uuid, std::int32_t>& partitions) {
  std::map<std::string, TopicPartitions> out;
  for (const auto& [id, m] : members) out[id];
  for (const auto& [topic, n] : partitions) {
    std::vector<std::string> subscribed;
    for (const auto& [id, m] : members) {
      if (m.topics.contains(topic)) subscribed.push_back(id);  // in id order
    }
    if (subscribed.empty()) continue;
    const std::int32_t count = static_cast<std::int32_t>(subscribed.size());
    std::int32_t next = 0;
    for (std::int32_t i = 0; i < count; ++i) {
      const std::int32_t len = n / count + (i < n % count ? 1 : 0);
      for (std::int32_t p = next; p < next + len; ++p) out[subscribed[i]][topic].insert(p);
      next += len;
    }
  }
  return out;
}

}  // namespace

bool KnownAssignor(std::string_view name) {
  return name == kUniformAssignor || name == kRangeAssignor;
}

std::map<std::string, TopicPartitions> Assign(
    std::string_view assignor, const std::map<std::string, AssignorMember>& members,
    const std::map<kafka::Uuid, std::int32_t>& partitions) {
  return assignor == kRangeAssignor ? Range(members, partitions) : Uniform(members, partitions);
}

std::size_t CountPartitions(const TopicPartitions& tp) {
  std::size_t n = 0;
  for (const auto& [topic, parts] : tp) n += parts.size();
  return n;
}

}  // namespace tern::broker::group
