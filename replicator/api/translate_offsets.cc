// TranslateOffsets: where one source position, or a source group's committed offsets (as
// group sync last saw them), are on the target.
#include <algorithm>
#include <string>

#include "replicator/api/convert.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {
namespace {

grpc::Status TranslatePosition(Engine& engine, const v1::TopicPartitionOffset& position,
                               v1::TranslateOffsetsResponse* response) {
  const std::string& topic = position.topic();
  if (position.offset() < 0) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "position.offset: " + std::to_string(position.offset()) + " is negative"};
  }
  const auto topics = engine.topics().Current().first;
  const auto found = std::find_if(topics->begin(), topics->end(),
                                  [&](const ReplicatedTopic& t) { return t.source == topic; });
  if (found == topics->end()) {
    return {grpc::StatusCode::NOT_FOUND,
            "topic '" + topic + "' is not replicated (ListPartitions lists the topics that are)"};
  }
  if (position.partition() < 0 || position.partition() >= found->partitions) {
    return {grpc::StatusCode::NOT_FOUND,
            "topic '" + topic + "' has no partition " + std::to_string(position.partition()) +
                " (it has " + std::to_string(found->partitions) + ")"};
  }
  auto translated =
      engine.store().Translate({topic, position.partition()}, position.offset());
  if (!translated.ok()) return ToGrpcStatus(translated.status());
  v1::OffsetTranslation* out = response->add_translations();
  out->set_source_topic(topic);
  out->set_partition(position.partition());
  out->set_source_offset(position.offset());
  out->set_target_topic(found->target);
  out->set_target_offset(translated.value().kind == Translation::kExact
                             ? translated.value().offset
                             : -1);
  return grpc::Status::OK;
}

grpc::Status TranslateGroup(Engine& engine, const std::string& group,
                            v1::TranslateOffsetsResponse* response) {
  if (group.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "group must not be empty"};
  for (const auto& status : engine.stats().Groups()) {
    if (status.group != group) continue;
    for (const auto& offset : status.offsets) SetTranslation(offset, response->add_translations());
    return grpc::Status::OK;
  }
  return {grpc::StatusCode::NOT_FOUND,
          "group '" + group + "' is not among the synced groups: ListGroups lists them, as "
          "group sync found them at the source (every groups_sync.interval_ms, " +
              std::to_string(engine.config().group_sync_interval_ms) +
              " ms; groups.include/exclude select them)"};
}

}  // namespace

grpc::Status ReplicatorApi::TranslateOffsets(grpc::ServerContext* context,
                                             const v1::TranslateOffsetsRequest* request,
                                             v1::TranslateOffsetsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  switch (request->what_case()) {
    case v1::TranslateOffsetsRequest::kPosition:
      return TranslatePosition(engine_, request->position(), response);
    case v1::TranslateOffsetsRequest::kGroup:
      return TranslateGroup(engine_, request->group(), response);
    case v1::TranslateOffsetsRequest::WHAT_NOT_SET:
      break;
  }
  return {grpc::StatusCode::INVALID_ARGUMENT, "set either group or position"};
}

}  // namespace tern::replicator::api
