#include "replicator/prometheus_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <map>
#include <utility>

#include "common/wall_clock.h"
#include "tern/version.h"

namespace tern::replicator {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Counter(const char* name, const char* help, std::int64_t value) {
  ClientMetric m;
  m.counter.value = static_cast<double>(value);
  return {name, help, MetricType::Counter, {m}};
}

MetricFamily Gauge(const char* name, const char* help, double value) {
  ClientMetric m;
  m.gauge.value = value;
  return {name, help, MetricType::Gauge, {m}};
}

class StatsCollector final : public prometheus::Collectable {
 public:
  StatsCollector(const EngineStats& stats, const MetricsOptions& options)
      : stats_(stats), options_(options) {}

  std::vector<MetricFamily> Collect() const override {
    const EngineStats& s = stats_;
    std::vector<MetricFamily> out = {
        Counter("tern_replicator_records_replicated_total",
                "Records written to the target and acknowledged", s.records_copied.load()),
        Counter("tern_replicator_bytes_replicated_total",
                "Key and value bytes of the records replicated", s.bytes_copied.load()),
        Counter("tern_replicator_records_skipped_loop_total",
                "Records not copied because they came from the target (provenance header)",
                s.records_skipped_loop.load()),
        Counter("tern_replicator_source_records_lost_total",
                "Records deleted by source retention before they were copied",
                s.records_lost.load()),
        Counter("tern_replicator_source_resets_total",
                "Source partitions found re-created or truncated below the replicated offset",
                s.source_resets.load()),
        Counter("tern_replicator_target_resets_total",
                "Target partitions found ending below the replicated offset (records lost on "
                "the target); copied again from the last record they hold",
                s.target_resets.load()),
        Counter("tern_replicator_fetch_pauses_total",
                "Times fetching from the source paused for back-pressure: the target took "
                "records slower than the source gave them",
                s.fetch_pauses.load()),
        Counter("tern_replicator_fetch_wakeups_total",
                "Times the source fetcher was woken after the consumer's fetch queue had "
                "filled up",
                s.fetch_wakeups.load()),
        Counter("tern_replicator_commits_total",
                "Progress commits (transactions in exactly-once mode)", s.commits.load()),
        Counter("tern_replicator_early_commits_total",
                "Transactions committed before commit_interval_ms because copying had caught "
                "up with the source",
                s.early_commits.load()),
        Counter("tern_replicator_restarts_total",
                "Restarts of the copy loop after an error", s.restarts.load()),
        Counter("tern_replicator_group_offsets_committed_total",
                "Translated consumer-group offsets committed on the target",
                s.group_offsets_committed.load()),
        Counter("tern_replicator_checkpoints_written_total",
                "Checkpoint records written to the checkpoints topic",
                s.checkpoints_written.load()),
        Counter("tern_replicator_group_sync_failures_total",
                "Group offset sync rounds that failed", s.group_sync_failures.load()),
        Counter("tern_replicator_offset_sync_failures_total",
                "Offset-syncs writes that failed", s.offset_sync_failures.load()),
        Gauge("tern_replicator_copying", "1 while the copy loop runs, 0 while it restarts",
              s.copying.load() ? 1 : 0),
        Gauge("tern_replicator_last_commit_timestamp_seconds",
              "Wall-clock time of the last progress commit",
              static_cast<double>(s.last_commit_ms.load()) / 1000.0),
    };
    out.push_back(Gauge("tern_replicator_last_group_sync_timestamp_seconds",
                        "Wall-clock time of the last group offset sync round that succeeded",
                        static_cast<double>(s.last_group_sync_ms.load()) / 1000.0));
    out.push_back(Gauge("tern_replicator_checkpoint_age_seconds",
                        "Seconds since the consumer-group checkpoints on the target were last "
                        "brought up to date (a group sync round that succeeded; from start-up "
                        "until the first)",
                        CheckpointAgeSeconds(s, WallClockMs())));
    AddHistograms(out);
    AddLag(out);
    if (options_.partition_lag) AddPartitionLag(out);
    AddClusters(out);
    AddErrors(out);
    ClientMetric info;
    info.label = {{"version", kVersion}};
    info.gauge.value = 1;
    out.push_back({"tern_replicator_build_info", "The running build", MetricType::Gauge, {info}});
    return out;
  }

 private:
  // Per cluster: reachable (the probe's last metadata request) and time throttled.
  void AddClusters(std::vector<MetricFamily>& out) const {
    MetricFamily up{"tern_replicator_cluster_reachable",
                    "1 when the cluster answered the last metadata probe (every 2 s)",
                    MetricType::Gauge,
                    {}};
    MetricFamily throttle{"tern_replicator_throttle_seconds_total",
                          "Time the cluster's quotas throttled the replicator's data clients",
                          MetricType::Counter,
                          {}};
    const std::pair<ClusterSide, const char*> sides[] = {{ClusterSide::kSource, "source"},
                                                         {ClusterSide::kTarget, "target"}};
    for (const auto& [side, name] : sides) {
      ClientMetric m;
      m.label = {{"cluster", name}};
      m.gauge.value = stats_.Cluster(side).reachable ? 1 : 0;
      up.metric.push_back(m);
      ClientMetric t;
      t.label = {{"cluster", name}};
      const auto& ms =
          side == ClusterSide::kSource ? stats_.source_throttle_ms : stats_.target_throttle_ms;
      t.counter.value = static_cast<double>(ms.load()) / 1000.0;
      throttle.metric.push_back(t);
    }
    out.push_back(std::move(up));
    out.push_back(std::move(throttle));
  }

  // Every kind of error in one family, for one alert and one panel.
  void AddErrors(std::vector<MetricFamily>& out) const {
    MetricFamily errors{"tern_replicator_errors_total",
                        "Errors by kind: copy_restart (the copy loop restarted), discovery, "
                        "group_sync, offset_sync, heartbeat",
                        MetricType::Counter,
                        {}};
    const std::pair<const char*, const std::atomic<std::int64_t>*> kinds[] = {
        {"copy_restart", &stats_.restarts},
        {"discovery", &stats_.discovery_failures},
        {"group_sync", &stats_.group_sync_failures},
        {"offset_sync", &stats_.offset_sync_failures},
        {"heartbeat", &stats_.heartbeat_failures}};
    for (const auto& [kind, value] : kinds) {
      ClientMetric m;
      m.label = {{"kind", kind}};
      m.counter.value = static_cast<double>(value->load());
      errors.metric.push_back(m);
    }
    out.push_back(std::move(errors));
  }

  static MetricFamily Histogram(const DurationHistogram& h, const char* name,
                                const char* help) {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
      cumulative += static_cast<std::uint64_t>(h.bucket(i));
      m.histogram.bucket.push_back({cumulative, h.bounds()[i]});
    }
    cumulative += static_cast<std::uint64_t>(h.bucket(h.bounds().size()));
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = h.sum_seconds();
    return {name, help, MetricType::Histogram, {m}};
  }

  void AddHistograms(std::vector<MetricFamily>& out) const {
    out.push_back(Histogram(stats_.latency, "tern_replicator_replication_latency_seconds",
                            "Time from a record's timestamp to its acknowledgement by the target"));
    out.push_back(Histogram(stats_.commit_duration, "tern_replicator_commit_duration_seconds",
                            "Time the copy loop waited for a commit (exactly-once: the "
                            "transaction with its progress; at-least-once: the progress)"));
    out.push_back(Histogram(stats_.store_write_duration,
                            "tern_replicator_store_write_duration_seconds",
                            "Time a commit's write to the state dir (RocksDB, synced) took"));
  }

  // Lag per topic (bounded by the number of replicated topics): records not yet replicated,
  // and how old the last replicated record is while some are waiting.
  void AddLag(std::vector<MetricFamily>& out) const {
    const std::int64_t now_ms = WallClockMs();
    struct TopicLag {
      double records = 0;
      double seconds = 0;
      double partitions = 0;
      bool known = false;  // some partition's source end and progress are known
    };
    std::map<std::string, TopicLag> topics;
    for (const auto& p : stats_.Partitions()) {
      TopicLag& t = topics[p.source_topic];
      t.partitions += 1;
      const std::int64_t lag = LagRecords(p);
      if (lag < 0) continue;
      t.known = true;
      t.records += static_cast<double>(lag);
      t.seconds = std::max(t.seconds, LagSeconds(p, now_ms));
    }
    MetricFamily records{"tern_replicator_lag_records",
                         "Source records not yet replicated, per source topic",
                         MetricType::Gauge,
                         {}};
    MetricFamily seconds{"tern_replicator_lag_seconds",
                         "Age of the newest replicated record while records wait, per topic",
                         MetricType::Gauge,
                         {}};
    MetricFamily partitions{"tern_replicator_partitions", "Source partitions being replicated",
                            MetricType::Gauge,
                            {}};
    for (const auto& [topic, lag] : topics) {
      ClientMetric m;
      m.label = {{"topic", topic}};
      m.gauge.value = lag.partitions;
      partitions.metric.push_back(m);
      if (!lag.known) continue;  // no series rather than a made-up zero
      m.gauge.value = lag.records;
      records.metric.push_back(m);
      m.gauge.value = lag.seconds;
      seconds.metric.push_back(m);
    }
    out.push_back(std::move(records));
    out.push_back(std::move(seconds));
    out.push_back(std::move(partitions));
  }

  // Lag per partition (metrics.partition_lag), for the `limit` partitions with the most lag:
  // the series stay bounded however many partitions are replicated.
  void AddPartitionLag(std::vector<MetricFamily>& out) const {
    const std::int64_t now_ms = WallClockMs();
    std::vector<PartitionStatus> known;
    for (auto& p : stats_.Partitions()) {
      if (LagRecords(p) >= 0) known.push_back(std::move(p));
    }
    std::sort(known.begin(), known.end(), [](const auto& a, const auto& b) {
      const std::int64_t la = LagRecords(a), lb = LagRecords(b);
      if (la != lb) return la > lb;
      return std::tie(a.source_topic, a.partition) < std::tie(b.source_topic, b.partition);
    });
    const std::size_t shown = std::min<std::size_t>(known.size(), options_.partition_lag_limit);
    MetricFamily records{"tern_replicator_partition_lag_records",
                         "Source records not yet replicated, per partition (the partitions "
                         "with the most lag, up to metrics.partition_lag_limit)",
                         MetricType::Gauge,
                         {}};
    MetricFamily seconds{"tern_replicator_partition_lag_seconds",
                         "Age of the newest replicated record while records wait, per partition "
                         "(the same partitions)",
                         MetricType::Gauge,
                         {}};
    for (std::size_t i = 0; i < shown; ++i) {
      const PartitionStatus& p = known[i];
      ClientMetric m;
      m.label = {{"topic", p.source_topic}, {"partition", std::to_string(p.partition)}};
      m.gauge.value = static_cast<double>(LagRecords(p));
      records.metric.push_back(m);
      if (const double age = LagSeconds(p, now_ms); age >= 0) {
        m.gauge.value = age;
        seconds.metric.push_back(m);
      }
    }
    out.push_back(std::move(records));
    out.push_back(std::move(seconds));
    out.push_back(Gauge("tern_replicator_partition_lag_omitted",
                        "Partitions left out of the per-partition lag series by the limit",
                        static_cast<double>(known.size() - shown)));
  }

  const EngineStats& stats_;
  const MetricsOptions options_;
};

class PrometheusServer final : public MetricsServer {
 public:
  PrometheusServer(std::unique_ptr<prometheus::Exposer> exposer, const EngineStats& stats,
                   const MetricsOptions& options)
      : exposer_(std::move(exposer)),
        collector_(std::make_shared<StatsCollector>(stats, options)) {
    exposer_->RegisterCollectable(collector_);
  }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<StatsCollector> collector_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> StartMetricsServer(const HostPort& listen,
                                                         const EngineStats& stats,
                                                         const MetricsOptions& options) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen.ToString());
  } catch (const std::exception& e) {
    return Status::IoError("cannot serve metrics on " + listen.ToString() + ": " + e.what());
  }
  return std::unique_ptr<MetricsServer>(
      std::make_unique<PrometheusServer>(std::move(exposer), stats, options));
}

}  // namespace tern::replicator
