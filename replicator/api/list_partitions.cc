// ListPartitions: the progress of every replicated partition, or of the topics matching
// topic_pattern.
#include "replicator/api/convert.h"
#include "replicator/api/pattern.h"
#include "replicator/api/progress.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {

grpc::Status ReplicatorApi::ListPartitions(grpc::ServerContext* context,
                                           const v1::ListPartitionsRequest* request,
                                           v1::ListPartitionsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  NamePattern topics;
  if (auto st = NamePattern::Compile("topic_pattern", request->topic_pattern(), false, &topics);
      !st.ok()) {
    return st;
  }
  auto progress = ReadProgress(engine_);
  if (!progress.ok()) return ToGrpcStatus(progress.status());
  for (auto& p : progress.value().partitions) {
    if (topics.Matches(p.source_topic())) *response->add_partitions() = std::move(p);
  }
  return grpc::Status::OK;
}

}  // namespace tern::replicator::api
