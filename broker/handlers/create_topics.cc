// CreateTopics: makes each topic with its partitions and configs; one node, so the replication
// factor must be 1 (or -1 for the default). Errors are per topic.
#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleCreateTopics(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::CreateTopicsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  Topics& topics = ctx.broker.topics();

  kafka::CreateTopicsResponse response;
  for (const auto& want : request.topics) {
    kafka::CreateTopicsResponse::CreatableTopicResult result;
    result.name = want.name;
    auto fail = [&](kafka::ErrorCode code, const std::string& message) {
      result.error_code = kafka::Code(code);
      result.error_message = message;
    };
    std::int32_t partitions = want.num_partitions;
    if (!want.assignments.empty()) {
      if (want.num_partitions != -1 || want.replication_factor != -1) {
        fail(kafka::ErrorCode::kInvalidRequest,
             "give either assignments or partitions and replication factor, not both");
      }
      partitions = static_cast<std::int32_t>(want.assignments.size());
      for (const auto& a : want.assignments) {
        if (a.broker_ids.size() != 1 || a.broker_ids[0] != ctx.broker.node_id()) {
          fail(kafka::ErrorCode::kInvalidReplicaAssignment,
               "this broker is the only node: assign each partition to node " +
                   std::to_string(ctx.broker.node_id()));
        }
      }
    }
    if (partitions == -1) partitions = ctx.broker.config().default_partitions;
    if (want.replication_factor != -1 && want.replication_factor != 1 &&
        want.assignments.empty()) {
      fail(kafka::ErrorCode::kInvalidReplicationFactor,
           "replication factor " + std::to_string(want.replication_factor) +
               " is larger than the 1 available broker");
    }
    TopicConfigs configs;
    for (const auto& c : want.configs) {
      if (c.value.has_value()) configs[c.name] = *c.value;
    }
    if (result.error_code == 0) {
      auto created = topics.Create(want.name, partitions, configs, request.validate_only);
      if (!created.ok()) {
        const auto& s = created.status();
        kafka::ErrorCode code = ToKafkaError(s);
        if (s.code() == Status::Code::kOutOfRange) code = kafka::ErrorCode::kInvalidPartitions;
        if (s.code() == Status::Code::kInvalidArgument) {
          code = s.message().find("topic name") != std::string::npos
                     ? kafka::ErrorCode::kInvalidTopicException
                     : kafka::ErrorCode::kInvalidConfig;
        }
        fail(code, s.message());
      } else {
        const Topic* topic = created.value();
        result.num_partitions = partitions;
        result.replication_factor = 1;
        if (topic != nullptr) result.topic_id = topic->id;
        result.configs.emplace();
        for (const auto& e : DescribeTopicConfigs(topics.defaults(), configs)) {
          result.configs->push_back({e.name, e.value, false, static_cast<std::int8_t>(e.source),
                                     false, {}});
        }
      }
    }
    response.topics.push_back(std::move(result));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
