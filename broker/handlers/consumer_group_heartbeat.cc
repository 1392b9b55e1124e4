// ConsumerGroupHeartbeat: a member of a consumer-protocol group (KIP-848) joins, stays, learns
// its assignment and leaves, one heartbeat at a time (group/consumer_membership.h has the
// rules). Topics are named by id both ways; partitions of topics that do not exist (any more)
// are left out of what the member says it owns.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleConsumerGroupHeartbeat(RequestContext& ctx,
                                                            kafka::Reader& body,
                                                            kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ConsumerGroupHeartbeatRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  group::ConsumerHeartbeatRequest hb;
  hb.group_id = std::move(request.group_id);
  hb.member_id = std::move(request.member_id);
  hb.member_epoch = request.member_epoch;
  hb.instance_id = std::move(request.instance_id);
  hb.rack_id = std::move(request.rack_id);
  hb.rebalance_timeout_ms = request.rebalance_timeout_ms;
  hb.subscribed_topic_names = std::move(request.subscribed_topic_names);
  hb.subscribed_topic_regex = std::move(request.subscribed_topic_regex);
  hb.server_assignor = std::move(request.server_assignor);
  if (request.topic_partitions.has_value()) {
    group::TopicPartitions owned;
    for (const auto& t : *request.topic_partitions) {
      auto& parts = owned[t.topic_id];
      parts.insert(t.partitions.begin(), t.partitions.end());
    }
    hb.owned = std::move(owned);
  }
  hb.client_id = ctx.header.client_id.value_or("");
  hb.client_host = ClientHost(ctx.peer);
  hb.version = version;
  group::ConsumerHeartbeatResult result = co_await broker.groups().ConsumerHeartbeat(std::move(hb));

  kafka::ConsumerGroupHeartbeatResponse response;
  response.error_code = kafka::Code(result.error);
  if (result.error != kafka::ErrorCode::kNone) {
    if (!result.message.empty()) response.error_message = result.message;
    response.member_epoch = -1;
    broker.metrics().ErrorReturned("ConsumerGroupHeartbeat", response.error_code);
  } else {
    response.member_id = result.member_id;
    response.member_epoch = result.member_epoch;
    response.heartbeat_interval_ms = result.heartbeat_interval_ms;
    if (result.assignment.has_value()) {
      kafka::ConsumerGroupHeartbeatResponse::Assignment a;
      for (const auto& [topic, parts] : *result.assignment) {
        kafka::ConsumerGroupHeartbeatResponse::TopicPartitions tp;
        tp.topic_id = topic;
        tp.partitions.assign(parts.begin(), parts.end());
        a.topic_partitions.push_back(std::move(tp));
      }
      response.assignment = std::move(a);
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
