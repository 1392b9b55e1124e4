// DeleteTopics: removes each named (or, v6+, identified) topic and its data, and then the
// offsets groups committed for it.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleDeleteTopics(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DeleteTopicsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  Topics& topics = ctx.broker.topics();

  struct Want {
    std::optional<std::string> name;
    kafka::Uuid id{};
  };
  std::vector<Want> wanted;
  for (const auto& name : request.topic_names) wanted.push_back({name, {}});
  for (const auto& t : request.topics) wanted.push_back({t.name, t.topic_id});

  kafka::DeleteTopicsResponse response;
  for (const auto& want : wanted) {
    kafka::DeleteTopicsResponse::DeletableTopicResult result;
    result.name = want.name;
    result.topic_id = want.id;
    const Topic* topic = want.name ? topics.Find(*want.name) : topics.FindById(want.id);
    if (topic == nullptr) {
      result.error_code = kafka::Code(want.name ? kafka::ErrorCode::kUnknownTopicOrPartition
                                                : kafka::ErrorCode::kUnknownTopicId);
      result.error_message = "topic does not exist";
    } else {
      result.name = topic->name;
      result.topic_id = topic->id;
      const std::string name = topic->name;
      if (auto s = topics.Delete(name); !s.ok()) {
        result.error_code = kafka::Code(ToKafkaError(s));
        result.error_message = s.message();
      } else if (name != group::kOffsetsTopic) {
        co_await ctx.broker.groups().DeleteTopicOffsets(name);
      }
    }
    response.responses.push_back(std::move(result));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
