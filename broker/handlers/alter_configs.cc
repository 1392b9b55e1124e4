// AlterConfigs: replaces the whole set of configs of each topic (configs not named are reset to
// their defaults). Broker configs come from the broker's file and cannot be altered here.
// Errors are per resource.
#include <set>
#include <utility>

#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::AlterConfigsRequest;
using Response = kafka::AlterConfigsResponse;

// Kafka's ConfigResource.Type numbering.
constexpr std::int8_t kTopicResource = 2;
constexpr std::int8_t kBrokerResource = 4;

std::pair<kafka::ErrorCode, std::string> AlterTopic(Topics& topics,
                                                    const Request::AlterConfigsResource& resource,
                                                    bool validate_only) {
  const std::string& name = resource.resource_name;
  if (topics.Find(name) == nullptr) {
    return {kafka::ErrorCode::kUnknownTopicOrPartition, "topic '" + name + "' does not exist"};
  }
  TopicConfigs configs;
  for (const auto& c : resource.configs) {
    if (!c.value) return {kafka::ErrorCode::kInvalidRequest, "null value for config " + c.name};
    if (!configs.emplace(c.name, *c.value).second) {
      return {kafka::ErrorCode::kInvalidRequest, "config " + c.name + " is given twice"};
    }
  }
  Status s = topics.SetConfigs(name, configs, validate_only);
  if (s.ok()) return {kafka::ErrorCode::kNone, ""};
  if (s.code() == Status::Code::kInvalidArgument) {
    return {kafka::ErrorCode::kInvalidConfig, s.message()};
  }
  return {ToKafkaError(s), s.message()};
}

}  // namespace

asio::awaitable<Result<Reply>> HandleAlterConfigs(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();

  // Kafka refuses every copy of a resource named twice, as which one should win is unclear.
  std::set<std::pair<std::int8_t, std::string>> seen, duplicated;
  for (const auto& r : request.resources) {
    if (!seen.emplace(r.resource_type, r.resource_name).second) {
      duplicated.emplace(r.resource_type, r.resource_name);
    }
  }

  Response response;
  for (const auto& resource : request.resources) {
    std::pair<kafka::ErrorCode, std::string> outcome;
    if (duplicated.contains({resource.resource_type, resource.resource_name})) {
      outcome = {kafka::ErrorCode::kInvalidRequest, "resource is named more than once"};
    } else if (resource.resource_type == kTopicResource) {
      outcome = AlterTopic(ctx.broker.topics(), resource, request.validate_only);
    } else if (resource.resource_type == kBrokerResource) {
      outcome = {kafka::ErrorCode::kInvalidRequest,
                 "broker configs are static: edit the broker's config file"};
    } else {
      outcome = {kafka::ErrorCode::kInvalidRequest,
                 "resource type " + std::to_string(resource.resource_type) +
                     " has no configs that can be altered"};
    }
    Response::AlterConfigsResourceResponse r;
    r.error_code = kafka::Code(outcome.first);
    if (outcome.first != kafka::ErrorCode::kNone) r.error_message = outcome.second;
    r.resource_type = resource.resource_type;
    r.resource_name = resource.resource_name;
    response.responses.push_back(std::move(r));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
