// IncrementalAlterConfigs: changes named topic configs one operation at a time — SET a value,
// DELETE it (back to the default), APPEND to or SUBTRACT from a list config such as
// cleanup.policy — leaving every other config as it was. A resource's operations apply all or
// nothing. Broker configs are static. Errors are per resource.
#include <algorithm>
#include <set>
#include <sstream>
#include <utility>

#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::IncrementalAlterConfigsRequest;
using Response = kafka::IncrementalAlterConfigsResponse;
using Outcome = std::pair<kafka::ErrorCode, std::string>;

// Kafka's ConfigResource.Type and AlterConfigOp.OpType numbering.
constexpr std::int8_t kTopicResource = 2;
constexpr std::int8_t kBrokerResource = 4;
constexpr std::int8_t kSet = 0;
constexpr std::int8_t kDelete = 1;
constexpr std::int8_t kAppend = 2;
constexpr std::int8_t kSubtract = 3;

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// Applies one APPEND or SUBTRACT to `configs`, starting from the effective value when the topic
// does not set the config itself (so APPEND compact to a default "delete" gives both).
Outcome ApplyListOp(const Request::AlterableConfig& op, const std::vector<TopicConfigEntry>& known,
                    TopicConfigs& configs) {
  const char* verb = op.config_operation == kAppend ? "APPEND" : "SUBTRACT";
  auto entry = std::find_if(known.begin(), known.end(),
                            [&](const TopicConfigEntry& e) { return e.name == op.name; });
  if (entry == known.end()) {
    return {kafka::ErrorCode::kInvalidConfig, "unknown topic config '" + op.name + "'"};
  }
  if (entry->type != ConfigType::kList) {
    return {kafka::ErrorCode::kInvalidConfig,
            std::string("cannot ") + verb + " to " + op.name + ": it is not a list config"};
  }
  auto it = configs.find(op.name);
  auto items = SplitList(it != configs.end() ? it->second : entry->value);
  for (const auto& value : SplitList(op.value.value_or(""))) {
    auto at = std::find(items.begin(), items.end(), value);
    if (op.config_operation == kAppend && at == items.end()) items.push_back(value);
    if (op.config_operation == kSubtract && at != items.end()) items.erase(at);
  }
  configs[op.name] = JoinList(items);
  return {kafka::ErrorCode::kNone, ""};
}

Outcome AlterTopic(Topics& topics, const Request::AlterConfigsResource& resource,
                   bool validate_only) {
  const std::string& name = resource.resource_name;
  const Topic* topic = topics.Find(name);
  if (topic == nullptr) {
    return {kafka::ErrorCode::kUnknownTopicOrPartition, "topic '" + name + "' does not exist"};
  }
  std::set<std::string> names;
  for (const auto& op : resource.configs) {
    if (!names.insert(op.name).second) {
      return {kafka::ErrorCode::kInvalidRequest, "config " + op.name + " is given twice"};
    }
  }
  TopicConfigs configs = topic->configs;
  const auto known = DescribeTopicConfigs(topics.defaults(), configs);
  for (const auto& op : resource.configs) {
    switch (op.config_operation) {
      case kSet:
        if (!op.value) return {kafka::ErrorCode::kInvalidRequest, "null value for " + op.name};
        configs[op.name] = *op.value;
        break;
      case kDelete:
        // Deleting a config that is not set (or not known) leaves nothing to do, as in Kafka.
        configs.erase(op.name);
        break;
      case kAppend:
      case kSubtract:
        if (auto outcome = ApplyListOp(op, known, configs);
            outcome.first != kafka::ErrorCode::kNone) {
          return outcome;
        }
        break;
      default:
        return {kafka::ErrorCode::kInvalidRequest,
                "unknown config operation " + std::to_string(op.config_operation)};
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

asio::awaitable<Result<Reply>> HandleIncrementalAlterConfigs(RequestContext& ctx,
                                                             kafka::Reader& body,
                                                             kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();

  // Kafka refuses every copy of a resource named twice, as the order of their changes is unclear.
  std::set<std::pair<std::int8_t, std::string>> seen, duplicated;
  for (const auto& r : request.resources) {
    if (!seen.emplace(r.resource_type, r.resource_name).second) {
      duplicated.emplace(r.resource_type, r.resource_name);
    }
  }

  Response response;
  for (const auto& resource : request.resources) {
    Outcome outcome;
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
