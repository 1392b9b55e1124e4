// ConsumerGroupDescribe: the state, epochs, assignor and members of consumer-protocol groups,
// each member with its subscription, what it holds and its target. A classic group, or one
// that does not exist, gets GROUP_ID_NOT_FOUND, as from Kafka: the admin client then asks
// DescribeGroups.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::ConsumerGroupDescribeResponse;

// DescribedGroup.Member.member_type: a member of the classic protocol (in a group that moved
// to the consumer protocol with it) or of the consumer protocol.
constexpr std::int8_t kClassicMemberType = 0;
constexpr std::int8_t kConsumerMemberType = 1;

Response::Assignment Describe(const Topics& topics, const group::TopicPartitions& held) {
  Response::Assignment a;
  for (const auto& [id, parts] : held) {
    Response::TopicPartitions tp;
    tp.topic_id = id;
    if (const Topic* t = topics.FindById(id)) tp.topic_name = t->name;
    tp.partitions.assign(parts.begin(), parts.end());
    a.topic_partitions.push_back(std::move(tp));
  }
  return a;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleConsumerGroupDescribe(RequestContext& ctx,
                                                           kafka::Reader& body,
                                                           kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ConsumerGroupDescribeRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();

  Response response;
  for (const std::string& id : request.group_ids) {
    Response::DescribedGroup g;
    g.group_id = id;
    const group::ConsumerGroup* group = groups.consumers().Find(id);
    if (!groups.Available(id)) {
      g.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
    } else if (group == nullptr) {
      g.error_code = kafka::Code(kafka::ErrorCode::kGroupIdNotFound);
      g.error_message = groups.Exists(id) ? "Group " + id + " is not a consumer group."
                                          : "Group " + id + " not found.";
    } else {
      g.group_state = group->StateName();
      g.group_epoch = group->group_epoch();
      g.assignment_epoch = group->assignment_epoch();
      g.assignor_name = group->AssignorName();
      for (const auto& [member_id, m] : group->members()) {
        Response::Member rm;
        rm.member_id = member_id;
        rm.instance_id = m.instance_id;
        rm.rack_id = m.rack_id;
        rm.member_epoch = m.member_epoch;
        rm.client_id = m.client_id;
        rm.client_host = m.client_host;
        rm.subscribed_topic_names = m.subscribed_topic_names;
        rm.subscribed_topic_regex = m.subscribed_topic_regex;
        rm.assignment = Describe(broker.topics(), m.assigned);
        rm.target_assignment = Describe(broker.topics(), group->TargetOf(member_id));
        rm.member_type = m.classic.has_value() ? kClassicMemberType : kConsumerMemberType;
        g.members.push_back(std::move(rm));
      }
    }
    if (g.error_code != 0) {
      broker.metrics().ErrorReturned("ConsumerGroupDescribe", g.error_code);
    }
    response.groups.push_back(std::move(g));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
