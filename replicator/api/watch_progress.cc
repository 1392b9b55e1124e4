// WatchProgress: the progress now, then every interval_ms until the caller cancels or the
// server shuts down.
#include <algorithm>
#include <chrono>
#include <thread>

#include "common/wall_clock.h"
#include "replicator/api/convert.h"
#include "replicator/api/pattern.h"
#include "replicator/api/progress.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {
namespace {

constexpr std::int32_t kDefaultIntervalMs = 1000;
constexpr std::int32_t kMinIntervalMs = 100;
constexpr std::int32_t kMaxIntervalMs = 60000;
// How often a waiting stream looks for a cancelled call or a closing server.
constexpr auto kWakeUp = std::chrono::milliseconds(50);

}  // namespace

grpc::Status ReplicatorApi::WatchProgress(grpc::ServerContext* context,
                                          const v1::WatchProgressRequest* request,
                                          grpc::ServerWriter<v1::WatchProgressResponse>* writer) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  const std::int32_t interval_ms =
      request->interval_ms() == 0 ? kDefaultIntervalMs : request->interval_ms();
  if (interval_ms < kMinIntervalMs || interval_ms > kMaxIntervalMs) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "interval_ms: " + std::to_string(request->interval_ms()) + " is outside " +
                std::to_string(kMinIntervalMs) + ".." + std::to_string(kMaxIntervalMs) +
                " (0 means " + std::to_string(kDefaultIntervalMs) + ")"};
  }
  NamePattern topics;
  if (auto st = NamePattern::Compile("topic_pattern", request->topic_pattern(), false, &topics);
      !st.ok()) {
    return st;
  }

  auto next = std::chrono::steady_clock::now();
  while (true) {
    if (closing_.load()) return {grpc::StatusCode::UNAVAILABLE, "the replicator is stopping"};
    if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "cancelled by the caller"};
    if (std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(next - std::chrono::steady_clock::now(),
                                                        kWakeUp));
      continue;
    }
    auto progress = ReadProgress(engine_);
    if (!progress.ok()) return ToGrpcStatus(progress.status());
    v1::WatchProgressResponse update;
    SetTimestamp(WallClockMs(), update.mutable_time());
    update.set_state(progress.value().state);
    *update.mutable_totals() = std::move(progress.value().totals);
    for (auto& p : progress.value().partitions) {
      if (topics.Matches(p.source_topic())) *update.add_partitions() = std::move(p);
    }
    if (!writer->Write(update)) return grpc::Status::OK;  // the caller went away
    // A slow round delays the next update rather than bunching the ones after it.
    next = std::max(next + std::chrono::milliseconds(interval_ms),
                    std::chrono::steady_clock::now());
  }
}

}  // namespace tern::replicator::api
