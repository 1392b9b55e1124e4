#include "replicator/api/progress.h"

#include <algorithm>
#include <map>

#include "common/wall_clock.h"
#include "replicator/api/convert.h"

namespace tern::replicator::api {
namespace {

using Key = std::pair<std::string, std::int32_t>;

// Unreachable as far as the probe knows: it has tried (a contact or an error) and failed.
bool KnownUnreachable(const ClusterHealth& health) {
  return !health.reachable &&
         (HasTime(health.last_contact_ms) || HasTime(health.last_error.time_ms));
}

}  // namespace

v1::ReplicatorState StateOf(const EngineStats& stats) {
  if (stats.stopping.load()) return v1::REPLICATOR_STATE_STOPPING;
  const bool copying = stats.copying.load();
  if (KnownUnreachable(stats.Cluster(ClusterSide::kSource)) ||
      KnownUnreachable(stats.Cluster(ClusterSide::kTarget)) ||
      (!copying && stats.restarts.load() > 0)) {
    return v1::REPLICATOR_STATE_DEGRADED;
  }
  return copying ? v1::REPLICATOR_STATE_RUNNING : v1::REPLICATOR_STATE_STARTING;
}

std::vector<v1::PartitionProgress> BuildPartitions(const PartitionSources& sources,
                                                   std::int64_t now_ms) {
  std::map<Key, const PartitionStatus*> published;
  for (const auto& p : sources.published) published[{p.source_topic, p.partition}] = &p;
  std::map<Key, std::int64_t> stored;
  for (const auto& [partition, progress] : sources.stored) {
    stored[{partition.topic, partition.partition}] = progress.next_source_offset;
  }

  std::vector<v1::PartitionProgress> out;
  for (const auto& topic : sources.topics) {
    const bool paused = sources.paused.contains(topic.source);
    for (std::int32_t i = 0; i < topic.partitions; ++i) {
      v1::PartitionProgress& p = out.emplace_back();
      p.set_source_topic(topic.source);
      p.set_partition(i);
      p.set_target_topic(topic.target);
      const auto pub = published.find({topic.source, i});
      const bool copied = sources.copying && pub != published.end();
      if (pub != published.end()) {
        const PartitionStatus& status = *pub->second;
        p.set_source_end_offset(status.source_end);
        p.set_replicated_offset(status.replicated);
        p.set_lag_records(LagRecords(status));
        p.set_lag_seconds(LagSeconds(status, now_ms));
        if (HasError(status.last_error)) SetError(status.last_error, p.mutable_last_error());
      } else {
        const auto committed = stored.find({topic.source, i});
        p.set_source_end_offset(-1);
        p.set_replicated_offset(committed != stored.end() ? committed->second : -1);
        p.set_lag_records(-1);
        p.set_lag_seconds(-1);
      }
      p.set_state(copied    ? v1::FLOW_STATE_COPYING
                  : paused ? v1::FLOW_STATE_PAUSED
                           : v1::FLOW_STATE_WAITING);
    }
  }
  return out;
}

v1::Totals BuildTotals(const EngineStats& stats,
                       const std::vector<v1::PartitionProgress>& partitions) {
  v1::Totals totals;
  totals.set_records_replicated(stats.records_copied.load());
  totals.set_bytes_replicated(stats.bytes_copied.load());
  totals.set_commits(stats.commits.load());
  totals.set_copy_restarts(stats.restarts.load());
  totals.set_records_lost(stats.records_lost.load());
  std::int64_t lag = 0;
  for (const auto& p : partitions) lag += std::max<std::int64_t>(p.lag_records(), 0);
  totals.set_lag_records(lag);
  if (const std::int64_t ms = stats.last_commit_ms.load(); HasTime(ms)) {
    SetTimestamp(ms, totals.mutable_last_commit_time());
  }
  return totals;
}

Result<ProgressSnapshot> ReadProgress(Engine& engine) {
  EngineStats& stats = engine.stats();
  PartitionSources sources;
  // Published partitions first: a partition the copy loop dropped after this read is then
  // still found in the store.
  sources.copying = stats.copying.load();
  sources.published = stats.Partitions();
  sources.topics = *engine.topics().Current().first;
  sources.paused = engine.paused().Current().first;
  auto stored = engine.store().AllProgress();
  if (!stored.ok()) return stored.status();
  sources.stored = std::move(stored).value();

  ProgressSnapshot snapshot;
  snapshot.state = StateOf(stats);
  snapshot.partitions = BuildPartitions(sources, WallClockMs());
  snapshot.totals = BuildTotals(stats, snapshot.partitions);
  return snapshot;
}

}  // namespace tern::replicator::api
