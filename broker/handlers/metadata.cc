// Metadata: the broker list (this node), the cluster id, and each requested topic with its
// partitions. Unknown topics are created when auto-creation is on and the client allows it.
#include <spdlog/spdlog.h>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::MetadataResponse;

Response::MetadataResponseTopic Describe(const Topic& topic, std::int32_t node_id) {
  Response::MetadataResponseTopic t;
  t.name = topic.name;
  t.topic_id = topic.id;
  t.is_internal = topic.internal;
  for (const auto& p : topic.partitions) {
    Response::MetadataResponsePartition out;
    out.partition_index = p.index;
    out.leader_id = node_id;
    out.leader_epoch = 0;
    out.replica_nodes = {node_id};
    if (p.log) {
      out.isr_nodes = {node_id};
    } else {
      out.error_code = kafka::Code(kafka::ErrorCode::kKafkaStorageError);
      out.offline_replicas = {node_id};
    }
    t.partitions.push_back(std::move(out));
  }
  return t;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleMetadata(RequestContext& ctx, kafka::Reader& body,
                                              kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::MetadataRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  Topics& topics = broker.topics();

  Response response;
  response.brokers.push_back(
      {broker.node_id(), broker.advertised().host, broker.advertised().port, std::nullopt, {}});
  response.cluster_id = broker.cluster_id();
  response.controller_id = broker.node_id();

  // v0: an empty list means all topics; v1+: null means all topics.
  const bool all = !request.topics.has_value() || (version == 0 && request.topics->empty());
  if (all) {
    for (const Topic* t : topics.All()) response.topics.push_back(Describe(*t, broker.node_id()));
  } else {
    const bool may_create = broker.config().auto_create_topics &&
                            (version < 4 || request.allow_auto_topic_creation);
    for (const auto& wanted : *request.topics) {
      const Topic* topic = nullptr;
      if (wanted.name.has_value()) {
        topic = topics.Find(*wanted.name);
      } else {
        topic = topics.FindById(wanted.topic_id);
      }
      if (topic == nullptr && wanted.name.has_value() && may_create) {
        auto created = topics.Create(*wanted.name, broker.config().default_partitions, {});
        if (created.ok()) {
          topic = created.value();
        } else if (created.status().code() != Status::Code::kInvalidArgument) {
          spdlog::warn("auto-creating topic {}: {}", *wanted.name, created.status().ToString());
        }
      }
      if (topic != nullptr) {
        response.topics.push_back(Describe(*topic, broker.node_id()));
        continue;
      }
      Response::MetadataResponseTopic missing;
      missing.name = wanted.name;
      missing.topic_id = wanted.topic_id;
      const bool bad_name = wanted.name.has_value() && !Topics::ValidateName(*wanted.name).ok();
      missing.error_code = kafka::Code(
          bad_name ? kafka::ErrorCode::kInvalidTopicException
          : wanted.name.has_value() ? kafka::ErrorCode::kUnknownTopicOrPartition
                                    : kafka::ErrorCode::kUnknownTopicId);
      response.topics.push_back(std::move(missing));
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
