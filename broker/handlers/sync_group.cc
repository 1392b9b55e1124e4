// SyncGroup: after JoinGroup, the leader sends every member's assignment and each member
// receives its own. Followers wait until the leader's assignment is durable in
// __consumer_offsets; in a stable group the current assignment is answered at once. From v5
// the protocol type and name are required (INCONSISTENT_GROUP_PROTOCOL without them, as
// Kafka answers).
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int16_t kFirstProtocolVersion = 5;

}  // namespace

asio::awaitable<Result<Reply>> HandleSyncGroup(RequestContext& ctx, kafka::Reader& body,
                                               kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::SyncGroupRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  group::SyncResult result;
  if (version >= kFirstProtocolVersion &&
      (!request.protocol_type.has_value() || !request.protocol_name.has_value())) {
    result.error = kafka::ErrorCode::kInconsistentGroupProtocol;
  } else {
    group::SyncRequest sync;
    sync.group_id = request.group_id;
    sync.generation = request.generation_id;
    sync.member_id = request.member_id;
    sync.instance_id = request.group_instance_id;
    sync.protocol_type = request.protocol_type;
    sync.protocol_name = request.protocol_name;
    for (auto& a : request.assignments) {
      sync.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
    }
    result = co_await broker.groups().Sync(std::move(sync));
  }

  kafka::SyncGroupResponse response;
  response.error_code = kafka::Code(result.error);
  response.protocol_type = result.protocol_type;
  response.protocol_name = result.protocol_name;
  response.assignment = std::move(result.assignment);
  if (response.error_code != 0) broker.metrics().ErrorReturned("SyncGroup", response.error_code);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
