// OffsetDelete: removes some of a group's committed offsets with tombstones. Partitions that do
// not exist get UNKNOWN_TOPIC_OR_PARTITION; the others NONE, whether or not they had an offset.
// The group must exist (GROUP_ID_NOT_FOUND otherwise); a group with members may lose the
// offsets of topics its members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the
// others), and only if it is a consumer group (NON_EMPTY_GROUP otherwise). A group error or a
// failed write is answered at the top level with only the unknown partitions listed, as Kafka
// answers it.
#include <spdlog/spdlog.h>

#include <set>

#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::OffsetDeleteResponse;

}  // namespace

asio::awaitable<Result<Reply>> HandleOffsetDelete(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::OffsetDeleteRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();
  const Topics& topics = broker.topics();
  const std::string& group = request.group_id;

  kafka::ErrorCode group_error = kafka::ErrorCode::kNone;
  if (group.empty()) {
    group_error = kafka::ErrorCode::kInvalidGroupId;
  } else if (!groups.Available(group)) {
    group_error = kafka::ErrorCode::kCoordinatorNotAvailable;
  } else if (!groups.Exists(group)) {
    group_error = kafka::ErrorCode::kGroupIdNotFound;
  } else {
    group_error = groups.OffsetDeleteError(group);
  }

  Response response;
  if (group_error == kafka::ErrorCode::kInvalidGroupId ||
      group_error == kafka::ErrorCode::kCoordinatorNotAvailable ||
      group_error == kafka::ErrorCode::kNonEmptyGroup) {
    response.error_code = kafka::Code(group_error);
    broker.metrics().ErrorReturned("OffsetDelete", response.error_code);
    response.Encode(out, version);
    co_return Reply::kSend;
  }

  std::set<std::pair<std::string, std::int32_t>> pending;
  for (auto& key : groups.offsets().PendingKeys(group)) pending.insert(std::move(key));
  std::vector<Response::OffsetDeleteResponseTopic> known;  // answered once the write is done
  std::vector<group::OffsetChange> tombstones;
  for (const auto& t : request.topics) {
    const Topic* topic = topics.Find(t.name);
    Response::OffsetDeleteResponseTopic unknown_topic{t.name, {}, {}};
    Response::OffsetDeleteResponseTopic known_topic{t.name, {}, {}};
    for (const auto& p : t.partitions) {
      const bool exists = topic != nullptr && p.partition_index >= 0 &&
                          p.partition_index < static_cast<std::int32_t>(topic->partitions.size());
      if (!exists) {
        unknown_topic.partitions.push_back(
            {p.partition_index, kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition), {}});
        broker.metrics().ErrorReturned("OffsetDelete",
                                       kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition));
        continue;
      }
      if (groups.SubscribedTo(group, t.name)) {
        known_topic.partitions.push_back(
            {p.partition_index, kafka::Code(kafka::ErrorCode::kGroupSubscribedToTopic), {}});
        broker.metrics().ErrorReturned("OffsetDelete",
                                       kafka::Code(kafka::ErrorCode::kGroupSubscribedToTopic));
        continue;
      }
      known_topic.partitions.push_back({p.partition_index, 0, {}});
      if (groups.offsets().Find(group, t.name, p.partition_index) != nullptr ||
          pending.count({t.name, p.partition_index}) != 0) {
        tombstones.push_back(group::OffsetChange{t.name, p.partition_index, std::nullopt});
      }
    }
    if (!unknown_topic.partitions.empty()) response.topics.push_back(std::move(unknown_topic));
    if (!known_topic.partitions.empty()) known.push_back(std::move(known_topic));
  }

  if (group_error == kafka::ErrorCode::kNone && !tombstones.empty()) {
    const Status s = co_await groups.offsets().Write(group, std::move(tombstones));
    if (!s.ok()) {
      spdlog::warn("{}: deleting offsets of group {} failed: {}", ctx.peer, group, s.ToString());
      group_error = group::WriteError(s);
    }
  }
  response.error_code = kafka::Code(group_error);
  if (group_error == kafka::ErrorCode::kNone) {
    for (auto& t : known) response.topics.push_back(std::move(t));
  } else {
    broker.metrics().ErrorReturned("OffsetDelete", response.error_code);
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
