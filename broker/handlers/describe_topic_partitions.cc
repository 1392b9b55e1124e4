// DescribeTopicPartitions (KIP-966): topics and their partitions, paged. Topics are taken in
// name order (all of them when none are named), starting at the cursor; once
// response_partition_limit partitions are in the response the rest is left for a next request,
// whose starting point goes back as next_cursor. One node: it leads every partition, which has
// no other replicas and so no eligible leader replicas.
#include <algorithm>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::DescribeTopicPartitionsRequest;
using Response = kafka::DescribeTopicPartitionsResponse;

// Kafka's default cap on partitions per response (max.request.partition.size.limit).
constexpr std::int32_t kMaxPartitionsPerResponse = 2000;

// Kafka's AclOperation numbering: what a topic supports, all allowed as there is no authorizer.
constexpr std::int32_t kTopicOperations =
    (1 << 3) /*READ*/ | (1 << 4) /*WRITE*/ | (1 << 5) /*CREATE*/ | (1 << 6) /*DELETE*/ |
    (1 << 7) /*ALTER*/ | (1 << 8) /*DESCRIBE*/ | (1 << 10) /*DESCRIBE_CONFIGS*/ |
    (1 << 11) /*ALTER_CONFIGS*/;

Response::DescribeTopicPartitionsResponsePartition DescribePartition(const Partition& p,
                                                                     std::int32_t node_id) {
  Response::DescribeTopicPartitionsResponsePartition out;
  out.partition_index = p.index;
  out.leader_id = node_id;
  out.leader_epoch = 0;
  out.replica_nodes = {node_id};
  out.eligible_leader_replicas.emplace();
  out.last_known_elr.emplace();
  if (p.log) {
    out.isr_nodes = {node_id};
  } else {
    out.error_code = kafka::Code(kafka::ErrorCode::kKafkaStorageError);
    out.offline_replicas = {node_id};
  }
  return out;
}

Response ErrorForAll(const Request& request, kafka::ErrorCode code) {
  Response response;
  for (const auto& t : request.topics) {
    Response::DescribeTopicPartitionsResponseTopic out;
    out.name = t.name;
    out.error_code = kafka::Code(code);
    response.topics.push_back(std::move(out));
  }
  return response;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleDescribeTopicPartitions(RequestContext& ctx,
                                                             kafka::Reader& body,
                                                             kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  const std::int32_t node_id = broker.node_id();

  const bool all = request.topics.empty();
  std::vector<std::string> names;
  if (all) {
    for (const Topic* t : broker.topics().All()) names.push_back(t->name);
  } else {
    for (const auto& t : request.topics) names.push_back(t.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::string first_name;
  std::int32_t first_partition = 0;
  if (request.cursor) {
    first_name = request.cursor->topic_name;
    first_partition = std::max<std::int32_t>(0, request.cursor->partition_index);
    // A cursor outside the named topics cannot have come from an earlier page of this list.
    if (!all && !std::binary_search(names.begin(), names.end(), first_name)) {
      ErrorForAll(request, kafka::ErrorCode::kInvalidRequest).Encode(out, version);
      co_return Reply::kSend;
    }
  }

  std::int32_t remaining = request.response_partition_limit;
  if (remaining <= 0 || remaining > kMaxPartitionsPerResponse) {
    remaining = kMaxPartitionsPerResponse;
  }

  Response response;
  for (const auto& name : names) {
    if (name < first_name) continue;
    const std::int32_t start = name == first_name ? first_partition : 0;
    if (remaining == 0) {
      response.next_cursor = Response::Cursor{name, start, {}};
      break;
    }
    Response::DescribeTopicPartitionsResponseTopic t;
    t.name = name;
    t.topic_authorized_operations = kTopicOperations;
    const Topic* topic = broker.topics().Find(name);
    if (topic == nullptr) {
      t.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition);
      response.topics.push_back(std::move(t));
      continue;
    }
    t.topic_id = topic->id;
    t.is_internal = topic->internal;
    const auto count = static_cast<std::int32_t>(topic->partitions.size());
    std::int32_t index = start;
    for (; index < count && remaining > 0; ++index, --remaining) {
      t.partitions.push_back(DescribePartition(topic->partitions[index], node_id));
    }
    response.topics.push_back(std::move(t));
    if (index < count) {
      response.next_cursor = Response::Cursor{name, index, {}};
      break;
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
