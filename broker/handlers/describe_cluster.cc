// DescribeCluster: the cluster id and its brokers — this node alone, which is also the
// controller. Like a Kafka broker it lists broker endpoints only: asking it for the controllers'
// endpoints gets MISMATCHED_ENDPOINT_TYPE, any other type UNSUPPORTED_ENDPOINT_TYPE.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int8_t kBrokerEndpoints = 1;
constexpr std::int8_t kControllerEndpoints = 2;

// Kafka's AclOperation numbering: the operations a cluster supports, all allowed because
// tern-broker has no authorizer (Kafka without one answers the same set).
constexpr std::int32_t kClusterOperations =
    (1 << 5) /*CREATE*/ | (1 << 7) /*ALTER*/ | (1 << 8) /*DESCRIBE*/ |
    (1 << 9) /*CLUSTER_ACTION*/ | (1 << 10) /*DESCRIBE_CONFIGS*/ | (1 << 11) /*ALTER_CONFIGS*/ |
    (1 << 12) /*IDEMPOTENT_WRITE*/;

}  // namespace

asio::awaitable<Result<Reply>> HandleDescribeCluster(RequestContext& ctx, kafka::Reader& body,
                                                     kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DescribeClusterRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  kafka::DescribeClusterResponse response;
  // The response names the kind of endpoint that answered, whatever was asked for.
  response.endpoint_type = kBrokerEndpoints;
  if (request.endpoint_type == kControllerEndpoints) {
    response.error_code = kafka::Code(kafka::ErrorCode::kMismatchedEndpointType);
    response.error_message = "this is a broker endpoint: it lists brokers, not controllers";
  } else if (request.endpoint_type != kBrokerEndpoints) {
    response.error_code = kafka::Code(kafka::ErrorCode::kUnsupportedEndpointType);
    response.error_message = "unknown endpoint type " + std::to_string(request.endpoint_type);
  } else {
    response.cluster_id = broker.cluster_id();
    response.controller_id = broker.node_id();
    // One node that is never fenced, so include_fenced_brokers changes nothing.
    response.brokers.push_back({broker.node_id(), broker.advertised().host,
                                broker.advertised().port, std::nullopt, false, {}});
    if (request.include_cluster_authorized_operations) {
      response.cluster_authorized_operations = kClusterOperations;
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
