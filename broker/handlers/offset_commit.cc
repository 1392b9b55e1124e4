// OffsetCommit: stores a group's committed offsets (group/offset_store.h) and answers once they
// are durable under the broker's fsync policy. Commits are accepted as Kafka accepts them
// (group_coordinator.h): from a member of the group's current generation, or with generation
// -1 while the group has no members (the admin client, simple and assign-mode consumers).
// Per partition: UNKNOWN_TOPIC_OR_PARTITION (v10: UNKNOWN_TOPIC_ID) for a partition that does
// not exist, OFFSET_METADATA_TOO_LARGE past offset.metadata.max.bytes; the others are written
// together. v2-4's retention_time_ms (other than -1) sets the offsets' own expiry time.
#include <spdlog/spdlog.h>

#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/commit_checks.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::OffsetCommitRequest;
using Response = kafka::OffsetCommitResponse;

constexpr std::int16_t kFirstTopicIdVersion = 10;
constexpr std::int16_t kLastRetentionTimeVersion = 4;
constexpr std::int64_t kDefaultRetentionTime = -1;

kafka::ErrorCode GroupError(group::GroupCoordinator& groups, const Request& request,
                            std::int16_t version) {
  if (request.group_id.empty()) return kafka::ErrorCode::kInvalidGroupId;
  if (!groups.Available(request.group_id)) return kafka::ErrorCode::kCoordinatorNotAvailable;
  return groups.ValidateOffsetCommit(request.group_id, request.generation_id_or_member_epoch,
                                     request.member_id, request.group_instance_id, version);
}

}  // namespace

asio::awaitable<Result<Reply>> HandleOffsetCommit(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();
  const Topics& topics = broker.topics();
  const kafka::ErrorCode group_error = GroupError(groups, request, version);

  const std::int64_t now = storage::SystemClockMs();
  const std::int64_t expire_at =
      version <= kLastRetentionTimeVersion && request.retention_time_ms != kDefaultRetentionTime
          ? now + request.retention_time_ms
          : -1;
  Response response;
  std::vector<group::OffsetChange> changes;
  std::vector<Response::OffsetCommitResponsePartition*> written;  // answers of `changes`
  response.topics.reserve(request.topics.size());
  for (const auto& t : request.topics) {
    Response::OffsetCommitResponseTopic& rt = response.topics.emplace_back();
    rt.name = t.name;
    rt.topic_id = t.topic_id;
    const Topic* topic =
        version >= kFirstTopicIdVersion ? topics.FindById(t.topic_id) : topics.Find(t.name);
    rt.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      Response::OffsetCommitResponsePartition& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      const kafka::ErrorCode error =
          group_error != kafka::ErrorCode::kNone
              ? group_error
              : CommitPartitionError(groups, topic, p, version >= kFirstTopicIdVersion);
      if (error == kafka::ErrorCode::kNone) {
        changes.push_back(group::OffsetChange{topic->name, p.partition_index,
                                              CommitValue(p, now, expire_at)});
      }
      rp.error_code = kafka::Code(error);
    }
  }
  // Pointers into the response are taken once it no longer grows.
  for (auto& rt : response.topics) {
    for (auto& rp : rt.partitions) {
      if (rp.error_code == 0) written.push_back(&rp);
    }
  }

  if (!changes.empty()) {
    const Status s = co_await groups.offsets().Write(request.group_id, std::move(changes));
    if (!s.ok()) {
      spdlog::warn("{}: committing offsets of group {} failed: {}", ctx.peer, request.group_id,
                   s.ToString());
      for (auto* rp : written) rp->error_code = kafka::Code(group::WriteError(s));
    }
  }
  for (const auto& rt : response.topics) {
    for (const auto& rp : rt.partitions) {
      if (rp.error_code != 0) broker.metrics().ErrorReturned("OffsetCommit", rp.error_code);
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
