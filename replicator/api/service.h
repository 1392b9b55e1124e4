// ReplicatorApi: the tern.replicator.v1.ReplicatorService handlers over a running Engine. One
// file per RPC (get_status.cc, list_partitions.cc, ...); what several of them share lives in
// progress.h (partition progress, totals, state), convert.h, pattern.h and auth.h.
//
// Handlers run on gRPC's threads, several at once; they only read the engine's thread-safe
// views (stats, store, topics, paused topics) and change nothing but the paused topics.
#pragma once

#include <atomic>
#include <string>
#include <utility>

#include "replicator/engine.h"
#include "tern/replicator/v1/replicator.grpc.pb.h"

namespace tern::replicator::api {

namespace pb = ::tern::replicator::v1;

class ReplicatorApi final : public pb::ReplicatorService::Service {
 public:
  // `token` empty: no authorization asked for. `engine` must outlive the object.
  ReplicatorApi(Engine& engine, std::string token)
      : engine_(engine), token_(std::move(token)) {}

  // Ends open WatchProgress streams (UNAVAILABLE) and makes new ones end at once: the
  // server is shutting down. Thread-safe.
  void Close() { closing_.store(true); }

  grpc::Status GetStatus(grpc::ServerContext* context, const pb::GetStatusRequest* request,
                         pb::GetStatusResponse* response) override;
  grpc::Status ListPartitions(grpc::ServerContext* context,
                              const pb::ListPartitionsRequest* request,
                              pb::ListPartitionsResponse* response) override;
  grpc::Status WatchProgress(grpc::ServerContext* context,
                             const pb::WatchProgressRequest* request,
                             grpc::ServerWriter<pb::WatchProgressResponse>* writer) override;
  grpc::Status TranslateOffsets(grpc::ServerContext* context,
                                const pb::TranslateOffsetsRequest* request,
                                pb::TranslateOffsetsResponse* response) override;
  grpc::Status ListGroups(grpc::ServerContext* context, const pb::ListGroupsRequest* request,
                          pb::ListGroupsResponse* response) override;
  grpc::Status PauseFlows(grpc::ServerContext* context, const pb::PauseFlowsRequest* request,
                          pb::PauseFlowsResponse* response) override;
  grpc::Status ResumeFlows(grpc::ServerContext* context, const pb::ResumeFlowsRequest* request,
                           pb::ResumeFlowsResponse* response) override;

 private:
  // The first call of every handler: UNAUTHENTICATED unless the call may go on (auth.h).
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  Engine& engine_;
  const std::string token_;
  std::atomic<bool> closing_{false};
};

}  // namespace tern::replicator::api
