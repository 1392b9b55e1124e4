// CreatePartitions: grows each topic to the asked partition count. There is one node, so any
// manual assignment must place each new partition on it alone. Errors are per topic.
#include <set>

#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::CreatePartitionsRequest;
using Response = kafka::CreatePartitionsResponse;
using Outcome = std::pair<kafka::ErrorCode, std::string>;

Outcome Grow(Topics& topics, std::int32_t node_id, const Request::CreatePartitionsTopic& want,
             bool validate_only) {
  const Topic* topic = topics.Find(want.name);
  if (topic == nullptr) {
    return {kafka::ErrorCode::kUnknownTopicOrPartition, "topic '" + want.name + "' does not exist"};
  }
  const auto current = static_cast<std::int32_t>(topic->partitions.size());
  // The two messages Kafka gives, so operators see the same reason on either broker.
  if (want.count == current) {
    return {kafka::ErrorCode::kInvalidPartitions,
            "topic already has " + std::to_string(current) + " partition(s)"};
  }
  if (want.count < current) {
    return {kafka::ErrorCode::kInvalidPartitions,
            "topic " + want.name + " currently has " + std::to_string(current) +
                " partition(s); " + std::to_string(want.count) + " would not be an increase"};
  }
  if (want.assignments) {
    const auto added = want.count - current;
    if (static_cast<std::int64_t>(want.assignments->size()) != added) {
      return {kafka::ErrorCode::kInvalidReplicaAssignment,
              "adding " + std::to_string(added) + " partition(s) needs as many assignments, got " +
                  std::to_string(want.assignments->size())};
    }
    for (const auto& a : *want.assignments) {
      for (std::int32_t id : a.broker_ids) {
        if (id != node_id) {
          return {kafka::ErrorCode::kInvalidReplicaAssignment,
                  "the assignment names broker " + std::to_string(id) +
                      ", but the only broker is " + std::to_string(node_id)};
        }
      }
      if (a.broker_ids.size() != 1) {
        return {kafka::ErrorCode::kInvalidReplicaAssignment,
                "each new partition must have exactly one replica, on broker " +
                    std::to_string(node_id)};
      }
    }
  }
  Status s = topics.AddPartitions(want.name, want.count, validate_only);
  if (s.ok()) return {kafka::ErrorCode::kNone, ""};
  if (s.code() == Status::Code::kInvalidArgument) {
    return {kafka::ErrorCode::kInvalidPartitions, s.message()};
  }
  return {ToKafkaError(s), s.message()};
}

}  // namespace

asio::awaitable<Result<Reply>> HandleCreatePartitions(RequestContext& ctx, kafka::Reader& body,
                                                      kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();

  std::set<std::string> seen, duplicated;
  for (const auto& t : request.topics) {
    if (!seen.insert(t.name).second) duplicated.insert(t.name);
  }

  Response response;
  for (const auto& want : request.topics) {
    const Outcome outcome =
        duplicated.contains(want.name)
            ? Outcome{kafka::ErrorCode::kInvalidRequest, "topic is named more than once"}
            : Grow(ctx.broker.topics(), ctx.broker.node_id(), want, request.validate_only);
    Response::CreatePartitionsTopicResult result;
    result.name = want.name;
    result.error_code = kafka::Code(outcome.first);
    if (outcome.first != kafka::ErrorCode::kNone) result.error_message = outcome.second;
    response.results.push_back(std::move(result));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
