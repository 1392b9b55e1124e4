// DeleteGroups: removes each group's committed offsets and membership (tombstones in
// __consumer_offsets, with a tombstone of its group metadata as Kafka writes). A group that
// does not exist is GROUP_ID_NOT_FOUND; a group with members is NON_EMPTY_GROUP.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleDeleteGroups(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DeleteGroupsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();

  kafka::DeleteGroupsResponse response;
  for (const std::string& group : request.groups_names) {
    kafka::DeleteGroupsResponse::DeletableGroupResult r;
    r.group_id = group;
    r.error_code = kafka::Code(co_await groups.DeleteGroup(group));
    if (r.error_code != 0) broker.metrics().ErrorReturned("DeleteGroups", r.error_code);
    response.results.push_back(std::move(r));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
