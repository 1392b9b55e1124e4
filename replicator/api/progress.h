// The replicator's progress as the API shows it — its state, the totals and each replicated
// partition's progress — built once here for GetStatus, ListPartitions and WatchProgress.
//
// A partition's numbers come from what the copy loop last published (at every commit); a
// partition it does not copy (paused, or the loop is restarting) shows its committed progress
// from the checkpoint store, with the source end and lags unknown (-1).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_store.h"
#include "common/result.h"
#include "replicator/engine.h"
#include "replicator/stats.h"
#include "replicator/topic_sync.h"
#include "tern/replicator/v1/replicator.pb.h"

namespace tern::replicator::api {

struct ProgressSnapshot {
  v1::ReplicatorState state = v1::REPLICATOR_STATE_UNSPECIFIED;
  v1::Totals totals;
  // Every partition of every replicated topic, in discovery's topic order and by partition.
  std::vector<v1::PartitionProgress> partitions;
};

// STOPPING when Stop() was called; DEGRADED when the probe found a cluster unreachable or the
// copy loop is restarting after an error; STARTING before the copy loop first runs; else
// RUNNING. A cluster the probe has not reached yet (just started) is not yet unreachable.
v1::ReplicatorState StateOf(const EngineStats& stats);

// What BuildPartitions reads, taken from the engine at one moment.
struct PartitionSources {
  std::vector<ReplicatedTopic> topics;
  std::set<std::string> paused;
  std::vector<PartitionStatus> published;
  std::vector<std::pair<tern::SourcePartition, tern::PartitionProgress>> stored;
  bool copying = false;
};

// A partition is COPYING while the copy loop runs and publishes it, PAUSED when its topic is
// paused and the copy loop no longer copies it (a pause takes effect at the next commit), and
// WAITING otherwise (the loop is starting or restarting, or has not picked it up yet).
std::vector<v1::PartitionProgress> BuildPartitions(const PartitionSources& sources,
                                                   std::int64_t now_ms);

// Counters from `stats`; lag_records sums the known lags of `partitions`.
v1::Totals BuildTotals(const EngineStats& stats,
                       const std::vector<v1::PartitionProgress>& partitions);

// Everything above, read from `engine` now. Fails only when the checkpoint store cannot be
// read.
Result<ProgressSnapshot> ReadProgress(Engine& engine);

}  // namespace tern::replicator::api
