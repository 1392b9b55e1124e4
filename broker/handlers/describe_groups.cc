// DescribeGroups: state, protocol and members of each group. Groups have no members yet, so a
// group with committed offsets is "Empty" (protocol type "consumer", no protocol) and any
// other is "Dead" — from v6 with GROUP_ID_NOT_FOUND, as Kafka answers since KIP-1043.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int16_t kFirstGroupIdNotFoundVersion = 6;

// Kafka's AclOperation numbering: what a group supports, all allowed as there is no authorizer.
constexpr std::int32_t kGroupOperations = (1 << 3) /*READ*/ | (1 << 6) /*DELETE*/ |
                                          (1 << 8) /*DESCRIBE*/ | (1 << 10) /*DESCRIBE_CONFIGS*/ |
                                          (1 << 11) /*ALTER_CONFIGS*/;

}  // namespace

asio::awaitable<Result<Reply>> HandleDescribeGroups(RequestContext& ctx, kafka::Reader& body,
                                                    kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DescribeGroupsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();

  kafka::DescribeGroupsResponse response;
  for (const std::string& group : request.groups) {
    kafka::DescribeGroupsResponse::DescribedGroup g;
    g.group_id = group;
    if (!groups.Available(group)) {
      g.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
    } else if (groups.StateOf(group) == group::GroupState::kEmpty) {
      g.group_state = group::GroupStateName(group::GroupState::kEmpty);
      g.protocol_type = group::kConsumerProtocolType;
    } else {
      g.group_state = group::GroupStateName(group::GroupState::kDead);
      if (version >= kFirstGroupIdNotFoundVersion) {
        g.error_code = kafka::Code(kafka::ErrorCode::kGroupIdNotFound);
        g.error_message = "Group " + group + " not found.";
      }
    }
    if (request.include_authorized_operations) g.authorized_operations = kGroupOperations;
    if (g.error_code != 0) broker.metrics().ErrorReturned("DescribeGroups", g.error_code);
    response.groups.push_back(std::move(g));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
