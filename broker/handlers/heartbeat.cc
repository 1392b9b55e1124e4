// Heartbeat: a member of a classic group shows it is alive, restarting its session timeout.
// REBALANCE_IN_PROGRESS tells it to rejoin; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and
// FENCED_INSTANCE_ID that it is no longer the member it thinks it is.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleHeartbeat(RequestContext& ctx, kafka::Reader& body,
                                               kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::HeartbeatRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  kafka::HeartbeatResponse response;
  response.error_code = kafka::Code(co_await broker.groups().Heartbeat(
      request.group_id, request.generation_id, request.member_id, request.group_instance_id));
  if (response.error_code != 0) broker.metrics().ErrorReturned("Heartbeat", response.error_code);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
