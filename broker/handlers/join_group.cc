// JoinGroup: a member of a classic group (re)joins, and waits until the rebalance completes:
// every member gets the generation, protocol and leader, the leader also every member's
// metadata (group/group_membership.h has the rules). From v4 a member without an id is given
// one with MEMBER_ID_REQUIRED and joins again with it. v0 has no rebalance timeout: the session
// timeout is used, as Kafka does. A consumer-protocol group with members serves classic members
// too (an online upgrade, group/group_migration.cc).
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int16_t kFirstRebalanceTimeoutVersion = 1;
constexpr std::int16_t kFirstNullableProtocolNameVersion = 7;

}  // namespace

asio::awaitable<Result<Reply>> HandleJoinGroup(RequestContext& ctx, kafka::Reader& body,
                                               kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::JoinGroupRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  group::JoinRequest join;
  join.group_id = request.group_id;
  join.member_id = request.member_id;
  join.instance_id = request.group_instance_id;
  join.client_id = ctx.header.client_id.value_or("");
  join.client_host = ClientHost(ctx.peer);
  join.session_timeout_ms = request.session_timeout_ms;
  join.rebalance_timeout_ms = version >= kFirstRebalanceTimeoutVersion
                                  ? request.rebalance_timeout_ms
                                  : request.session_timeout_ms;
  join.protocol_type = request.protocol_type;
  for (auto& p : request.protocols) {
    join.protocols.push_back(group::JoinProtocol{std::move(p.name), std::move(p.metadata)});
  }
  join.reason = request.reason.value_or("");
  join.version = version;
  group::JoinResult result = co_await broker.groups().Join(std::move(join));

  kafka::JoinGroupResponse response;
  response.error_code = kafka::Code(result.error);
  response.generation_id = result.generation;
  response.protocol_type = result.protocol_type;
  // Before v7 the protocol name is not nullable: "" stands for none; from v7 null does.
  if (version >= kFirstNullableProtocolNameVersion) {
    response.protocol_name = result.protocol_name.has_value() && !result.protocol_name->empty()
                                 ? result.protocol_name
                                 : std::nullopt;
  } else {
    response.protocol_name = result.protocol_name.value_or("");
  }
  response.leader = result.leader;
  response.skip_assignment = result.skip_assignment;
  response.member_id = result.member_id;
  for (auto& m : result.members) {
    kafka::JoinGroupResponse::JoinGroupResponseMember rm;
    rm.member_id = std::move(m.member_id);
    rm.group_instance_id = std::move(m.group_instance_id);
    rm.metadata = std::move(m.metadata);
    response.members.push_back(std::move(rm));
  }
  if (response.error_code != 0) broker.metrics().ErrorReturned("JoinGroup", response.error_code);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
