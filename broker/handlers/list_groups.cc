// ListGroups: the groups this coordinator knows — every group with members, committed offsets
// or the record of an earlier generation — each with its type and state: a classic group
// (Empty, PreparingRebalance, CompletingRebalance, Stable) with its members' protocol type
// ("consumer" for a group with offsets only), or a consumer-protocol group (type "consumer":
// Empty, Reconciling, Stable). v4's states filter and v5's types filter match
// case-insensitively, as Kafka's do. When a partition of __consumer_offsets is offline its
// groups are missing and the answer carries COORDINATOR_NOT_AVAILABLE with the groups of the
// other partitions.
#include <algorithm>
#include <cctype>

#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Kafka trims the states it is given.
  const auto first = out.find_first_not_of(" \t");
  const auto last = out.find_last_not_of(" \t");
  return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

bool Matches(const std::vector<std::string>& filter, std::string_view value) {
  if (filter.empty()) return true;
  const std::string want = Lower(value);
  return std::any_of(filter.begin(), filter.end(),
                     [&](const std::string& f) { return Lower(f) == want; });
}

}  // namespace

asio::awaitable<Result<Reply>> HandleListGroups(RequestContext& ctx, kafka::Reader& body,
                                                kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ListGroupsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();

  kafka::ListGroupsResponse response;
  for (const std::string& group : groups.Groups()) {
    const std::string_view state = groups.StateNameOf(group);
    const std::string_view type = groups.TypeOf(group);
    if (!Matches(request.states_filter, state) || !Matches(request.types_filter, type)) {
      continue;
    }
    kafka::ListGroupsResponse::ListedGroup g;
    g.group_id = group;
    g.protocol_type = groups.ProtocolTypeOf(group);
    g.group_state = state;
    g.group_type = type;
    response.groups.push_back(std::move(g));
  }
  if (!groups.offsets().AllAvailable()) {
    response.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
    broker.metrics().ErrorReturned("ListGroups", response.error_code);
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
