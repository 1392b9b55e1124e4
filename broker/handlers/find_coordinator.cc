// FindCoordinator: this node coordinates every group and transactional id (a single-node
// cluster). Share-group keys (type 2) are not served. v4+ answers a batch of keys.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int8_t kGroup = 0;
constexpr std::int8_t kTransaction = 1;

}  // namespace

asio::awaitable<Result<Reply>> HandleFindCoordinator(RequestContext& ctx, kafka::Reader& body,
                                                     kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::FindCoordinatorRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  const bool known_type = request.key_type == kGroup || request.key_type == kTransaction;
  const auto error = known_type ? kafka::ErrorCode::kNone : kafka::ErrorCode::kInvalidRequest;
  const std::optional<std::string> message =
      known_type ? std::nullopt : std::optional<std::string>("unsupported coordinator key type");

  kafka::FindCoordinatorResponse response;
  if (version < 4) {
    response.error_code = kafka::Code(error);
    response.error_message = message;
    response.node_id = known_type ? broker.node_id() : -1;
    response.host = known_type ? broker.advertised().host : "";
    response.port = known_type ? broker.advertised().port : -1;
  } else {
    for (const auto& key : request.coordinator_keys) {
      kafka::FindCoordinatorResponse::Coordinator c;
      c.key = key;
      c.node_id = known_type ? broker.node_id() : -1;
      c.host = known_type ? broker.advertised().host : "";
      c.port = known_type ? broker.advertised().port : -1;
      c.error_code = kafka::Code(error);
      c.error_message = message;
      response.coordinators.push_back(std::move(c));
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
