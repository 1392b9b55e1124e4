// LeaveGroup: members leave a classic group, which rebalances without them. v0-2 name one
// member and answer its error at the top level; v3+ name several (a static member may be named
// by its instance id alone, as the admin client's removeMembersFromConsumerGroup does) and
// answer each.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int16_t kFirstBatchVersion = 3;

}  // namespace

asio::awaitable<Result<Reply>> HandleLeaveGroup(RequestContext& ctx, kafka::Reader& body,
                                                kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::LeaveGroupRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  std::vector<group::LeavingMember> leaving;
  if (version < kFirstBatchVersion) {
    leaving.push_back({request.member_id, std::nullopt, ""});
  } else {
    for (const auto& m : request.members) {
      leaving.push_back({m.member_id, m.group_instance_id, m.reason.value_or("")});
    }
  }
  const group::LeaveResult result =
      co_await broker.groups().Leave(request.group_id, std::move(leaving));

  kafka::LeaveGroupResponse response;
  response.error_code = kafka::Code(result.error);
  if (version < kFirstBatchVersion) {
    if (result.error == kafka::ErrorCode::kNone && !result.members.empty()) {
      response.error_code = kafka::Code(result.members.front().error);
    }
  } else if (result.error == kafka::ErrorCode::kNone) {
    for (const auto& m : result.members) {
      response.members.push_back({m.member_id, m.instance_id, kafka::Code(m.error), {}});
      if (m.error != kafka::ErrorCode::kNone) {
        broker.metrics().ErrorReturned("LeaveGroup", kafka::Code(m.error));
      }
    }
  }
  if (response.error_code != 0) broker.metrics().ErrorReturned("LeaveGroup", response.error_code);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
