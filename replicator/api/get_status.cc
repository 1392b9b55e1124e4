// GetStatus: the replicator as a whole, each cluster and each topic flow.
#include <algorithm>

#include "replicator/api/convert.h"
#include "replicator/api/progress.h"
#include "replicator/api/service.h"
#include "tern/version.h"

namespace tern::replicator::api {
namespace {

void SetCluster(const ClusterConfig& config, const ClusterHealth& health,
                v1::ClusterStatus* out) {
  out->set_alias(config.alias);
  if (auto it = config.client.find("bootstrap.servers"); it != config.client.end()) {
    out->set_bootstrap_servers(it->second);
  }
  out->set_reachable(health.reachable);
  if (HasTime(health.last_contact_ms)) {
    SetTimestamp(health.last_contact_ms, out->mutable_last_contact_time());
  }
  if (HasError(health.last_error)) SetError(health.last_error, out->mutable_last_error());
}

// One flow per topic from its partitions (consecutive in `partitions`): PAUSED when one of
// them is, else WAITING when one of them is, else COPYING; the known lags are summed
// (records) and the largest is taken (seconds), -1 when none is known.
void AddFlows(const std::vector<v1::PartitionProgress>& partitions,
              v1::GetStatusResponse* response) {
  v1::FlowStatus* flow = nullptr;
  for (const auto& p : partitions) {
    if (flow == nullptr || flow->source_topic() != p.source_topic()) {
      flow = response->add_flows();
      flow->set_source_topic(p.source_topic());
      flow->set_target_topic(p.target_topic());
      flow->set_state(v1::FLOW_STATE_COPYING);
      flow->set_lag_records(-1);
      flow->set_lag_seconds(-1);
    }
    flow->set_partitions(flow->partitions() + 1);
    if (p.state() == v1::FLOW_STATE_PAUSED ||
        (p.state() == v1::FLOW_STATE_WAITING && flow->state() == v1::FLOW_STATE_COPYING)) {
      flow->set_state(p.state());
    }
    if (p.lag_records() >= 0) {
      flow->set_lag_records(std::max<std::int64_t>(flow->lag_records(), 0) + p.lag_records());
    }
    flow->set_lag_seconds(std::max(flow->lag_seconds(), p.lag_seconds()));
  }
}

}  // namespace

grpc::Status ReplicatorApi::GetStatus(grpc::ServerContext* context,
                                      const v1::GetStatusRequest* /*request*/,
                                      v1::GetStatusResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  auto progress = ReadProgress(engine_);
  if (!progress.ok()) return ToGrpcStatus(progress.status());
  const EngineStats& stats = engine_.stats();
  const ReplicatorConfig& config = engine_.config();

  response->set_state(progress.value().state);
  response->set_version(kVersion);
  if (const std::int64_t ms = stats.start_ms.load(); HasTime(ms)) {
    SetTimestamp(ms, response->mutable_start_time());
  }
  response->set_delivery(config.delivery == DeliveryMode::kExactlyOnce
                             ? v1::DELIVERY_MODE_EXACTLY_ONCE
                             : v1::DELIVERY_MODE_AT_LEAST_ONCE);
  SetCluster(config.source, stats.Cluster(ClusterSide::kSource), response->mutable_source());
  SetCluster(config.target, stats.Cluster(ClusterSide::kTarget), response->mutable_target());
  AddFlows(progress.value().partitions, response);
  *response->mutable_totals() = progress.value().totals;
  if (const ErrorNote error = stats.CopyError(); HasError(error)) {
    SetError(error, response->mutable_last_error());
  }
  return grpc::Status::OK;
}

}  // namespace tern::replicator::api
