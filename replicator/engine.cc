#include "replicator/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/wall_clock.h"
#include "replicator/group_sync.h"
#include "replicator/topic_sync.h"

namespace tern::replicator {
namespace {

constexpr std::int64_t kMaxBackoffMs = 30000;
constexpr std::int64_t kProbeIntervalMs = 2000;
constexpr int kProbeTimeoutMs = 5000;


std::int64_t NextBackoff(std::int64_t backoff) {
  return std::min<std::int64_t>(backoff * 2, kMaxBackoffMs);
}

}  // namespace

Engine::Engine(const ReplicatorConfig& config, std::unique_ptr<CheckpointStore> store)
    : config_(config),
      store_(std::move(store)),
      naming_(config.naming, config.source.alias, config.target.alias) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  stats_.start_ms.store(WallClockMs());
  threads_.emplace_back([this] { ProbeThread(); });
  threads_.emplace_back([this] { DiscoveryThread(); });
  threads_.emplace_back([this] { CopyThread(); });
  threads_.emplace_back([this] { GroupsThread(); });
}

void Engine::Stop() {
  stats_.stopping.store(true);
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool Engine::Sleep(std::int64_t ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop_.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

void Engine::DiscoveryThread() {
  std::int64_t backoff = 500;
  KafkaHandle source, target;
  std::unique_ptr<TopicSync> sync;
  bool internal_topics = false;
  while (!stop_.load()) {
    if (!source || !target) {
      auto s = NewClient(RD_KAFKA_PRODUCER, "source admin", config_.source.client,
                         {{"client.id", "tern-replicator." + config_.source.alias + ".admin"}});
      auto t = NewClient(RD_KAFKA_PRODUCER, "target admin", config_.target.client,
                         {{"client.id", "tern-replicator." + config_.target.alias + ".admin"}});
      if (!s.ok() || !t.ok()) {
        spdlog::error("discovery: {}", (!s.ok() ? s.status() : t.status()).message());
        return;  // settings were checked at start; this does not heal by waiting
      }
      source = std::move(s).value();
      target = std::move(t).value();
      sync = std::make_unique<TopicSync>(config_, naming_, source.get(), target.get());
    }
    if (!internal_topics) {
      Status st = EnsureInternalTopics(config_, source.get(), target.get());
      if (!st.ok()) {
        spdlog::warn("creating the replicator's topics: {}; retrying in {} ms", st.message(),
                     backoff);
        if (!Sleep(backoff)) return;
        backoff = NextBackoff(backoff);
        continue;
      }
      internal_topics = true;
    }
    auto topics = sync->Run();
    if (!topics.ok()) {
      stats_.discovery_failures.fetch_add(1);
      spdlog::warn("discovery: {}; retrying in {} ms", topics.status().message(), backoff);
      if (!Sleep(backoff)) return;
      backoff = NextBackoff(backoff);
      continue;
    }
    backoff = 500;
    topics_.Publish(std::move(topics).value());
    if (!Sleep(config_.discovery_interval_ms)) return;
  }
}

void Engine::CopyThread() {
  // Wait for the first discovery round, so the first assignment is complete.
  while (!stop_.load() && topics_.Current().second == 0) Sleep(50);
  std::int64_t backoff = 500;
  while (!stop_.load()) {
    CopyLoop loop(config_, naming_, *store_, topics_, paused_, stats_);
    const auto started = std::chrono::steady_clock::now();
    Status st = loop.Run(stop_);
    if (st.ok()) return;
    stats_.restarts.fetch_add(1);
    stats_.SetCopyError({st.message(), WallClockMs()});
    if (std::chrono::steady_clock::now() - started > std::chrono::minutes(1)) backoff = 500;
    spdlog::error("replication stopped: {}; restarting from the committed progress in {} ms",
                  st.message(), backoff);
    if (!Sleep(backoff)) return;
    backoff = NextBackoff(backoff);
  }
}

// A metadata request (no topics) to each cluster every 2 s: what health and the API report
// as reachable. Independent of the replication threads, which may be blocked in a retry.
void Engine::ProbeThread() {
  KafkaHandle clients[2];
  const ClusterConfig* sides[2] = {&config_.source, &config_.target};
  while (!stop_.load()) {
    for (int i = 0; i < 2; ++i) {
      const ClusterSide side = i == 0 ? ClusterSide::kSource : ClusterSide::kTarget;
      if (!clients[i]) {
        auto c = NewClient(RD_KAFKA_PRODUCER, i == 0 ? "source probe" : "target probe",
                           sides[i]->client,
                           {{"client.id", "tern-replicator." + sides[i]->alias + ".probe"}});
        if (!c.ok()) {
          spdlog::error("probe: {}", c.status().message());
          return;  // settings were checked at start
        }
        clients[i] = std::move(c).value();
      }
      ClusterHealth health = stats_.Cluster(side);
      const rd_kafka_metadata_t* metadata = nullptr;
      rd_kafka_resp_err_t err =
          rd_kafka_metadata(clients[i].get(), 0, nullptr, &metadata, kProbeTimeoutMs);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(metadata);
        health.reachable = true;
        health.last_contact_ms = WallClockMs();
      } else {
        if (health.reachable || health.last_error.time_ms == 0) {
          spdlog::warn("{} cluster {} unreachable: {}", i == 0 ? "source" : "target",
                       sides[i]->alias, rd_kafka_err2str(err));
        }
        health.reachable = false;
        health.last_error = {std::string("metadata request: ") + rd_kafka_err2str(err), WallClockMs()};
      }
      stats_.SetCluster(side, std::move(health));
    }
    Sleep(kProbeIntervalMs);
  }
}

void Engine::GroupsThread() {
  while (!stop_.load() && topics_.Current().second == 0) Sleep(50);
  std::int64_t backoff = 500;
  GroupSync sync(config_, *store_, stats_);
  if (Status st = sync.Open(); !st.ok()) {
    spdlog::error("group sync: {}", st.message());
    return;
  }
  auto next_groups = std::chrono::steady_clock::now();
  auto next_heartbeat = next_groups;
  while (!stop_.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_heartbeat) {
      if (Status st = sync.Heartbeat(); !st.ok()) {
        stats_.heartbeat_failures.fetch_add(1);
        spdlog::warn("heartbeat: {}", st.message());
      }
      next_heartbeat = now + std::chrono::milliseconds(config_.heartbeat_interval_ms);
    }
    if (now >= next_groups) {
      Status st = sync.SyncOnce(*topics_.Current().first);
      if (st.ok()) {
        stats_.last_group_sync_ms.store(WallClockMs());
        backoff = 500;
        next_groups = now + std::chrono::milliseconds(config_.group_sync_interval_ms);
      } else {
        stats_.group_sync_failures.fetch_add(1);
        spdlog::warn("group offsets sync: {}; retrying in {} ms", st.message(), backoff);
        next_groups = now + std::chrono::milliseconds(backoff);
        backoff = NextBackoff(backoff);
      }
    }
    const auto wake = std::min(next_groups, next_heartbeat);
    Sleep(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - std::chrono::steady_clock::now())
               .count()));
  }
}

}  // namespace tern::replicator
