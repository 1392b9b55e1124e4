// DescribeGroups: state, protocol and members of each group. A stable group lists its protocol
// and every member with its metadata and assignment; in other states the members come without
// metadata and no protocol is named, as Kafka answers. A group with committed offsets only is
// "Empty" (protocol type "consumer"); one that does not exist is "Dead" — from v6 with
// GROUP_ID_NOT_FOUND, as Kafka answers since KIP-1043. A consumer-protocol group is not
// described here (ConsumerGroupDescribe does): "Dead", with GROUP_ID_NOT_FOUND from v6.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Described = kafka::DescribeGroupsResponse::DescribedGroup;

constexpr std::int16_t kFirstGroupIdNotFoundVersion = 6;

// Kafka's AclOperation numbering: what a group supports, all allowed as there is no authorizer.
constexpr std::int32_t kGroupOperations = (1 << 3) /*READ*/ | (1 << 6) /*DELETE*/ |
                                          (1 << 8) /*DESCRIBE*/ | (1 << 10) /*DESCRIBE_CONFIGS*/ |
                                          (1 << 11) /*ALTER_CONFIGS*/;

void DescribeMembers(const group::ClassicGroup& g, Described& out) {
  const bool stable = g.state() == group::GroupState::kStable;
  if (stable) out.protocol_data = g.protocol_name().value_or("");
  for (const auto& m : g.members()) {
    kafka::DescribeGroupsResponse::DescribedGroupMember dm;
    dm.member_id = m->id;
    dm.group_instance_id = m->instance_id;
    dm.client_id = m->client_id;
    dm.client_host = m->client_host;
    if (stable) dm.member_metadata = m->MetadataFor(g.protocol_name());
    dm.member_assignment = m->assignment;
    out.members.push_back(std::move(dm));
  }
}

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
    Described g;
    g.group_id = group;
    const group::GroupState state = groups.StateOf(group);
    if (!groups.Available(group)) {
      g.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
    } else if (groups.consumers().Find(group) != nullptr) {
      g.group_state = group::GroupStateName(group::GroupState::kDead);
      if (version >= kFirstGroupIdNotFoundVersion) {
        g.error_code = kafka::Code(kafka::ErrorCode::kGroupIdNotFound);
        g.error_message = "Group " + group + " is not a classic group.";
      }
    } else if (state != group::GroupState::kDead) {
      g.group_state = group::GroupStateName(state);
      g.protocol_type = groups.ProtocolTypeOf(group);
      if (const group::ClassicGroup* members = groups.membership().Find(group)) {
        DescribeMembers(*members, g);
      }
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
