// DescribeConfigs: the configs of topics (every known topic config with its effective value and
// where it comes from) and of this broker (its settings under Kafka's names, read-only because
// tern-broker has no dynamic broker configs). Errors are per resource.
#include <string_view>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::DescribeConfigsResponse;
using Entry = Response::DescribeConfigsResourceResult;
using Synonym = Response::DescribeConfigsSynonym;

// Kafka's ConfigResource.Type numbering.
constexpr std::int8_t kTopicResource = 2;
constexpr std::int8_t kBrokerResource = 4;
constexpr std::int8_t kBrokerLoggerResource = 8;
constexpr std::int8_t kClientMetricsResource = 16;
constexpr std::int8_t kGroupResource = 32;

// The broker-level config behind a topic config, as Kafka reports it among the synonyms; a
// topic config missing here is its own broker-level name.
std::string_view BrokerName(std::string_view topic_config) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"cleanup.policy", "log.cleanup.policy"},
      {"delete.retention.ms", "log.cleaner.delete.retention.ms"},
      {"file.delete.delay.ms", "log.segment.delete.delay.ms"},
      {"flush.messages", "log.flush.interval.messages"},
      {"flush.ms", "log.flush.interval.ms"},
      {"index.interval.bytes", "log.index.interval.bytes"},
      {"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"},
      {"max.message.bytes", "message.max.bytes"},
      {"message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms"},
      {"message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms"},
      {"message.timestamp.type", "log.message.timestamp.type"},
      {"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"},
      {"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"},
      {"preallocate", "log.preallocate"},
      {"retention.bytes", "log.retention.bytes"},
      {"retention.ms", "log.retention.ms"},
      {"segment.bytes", "log.segment.bytes"},
      {"segment.index.bytes", "log.index.size.max.bytes"},
      {"segment.jitter.ms", "log.roll.jitter.ms"},
      {"segment.ms", "log.roll.ms"},
  };
  for (const auto& [topic, broker] : kNames) {
    if (topic == topic_config) return broker;
  }
  return topic_config;
}

bool Wanted(const kafka::DescribeConfigsRequest::DescribeConfigsResource& resource,
            const std::string& name) {
  // Null asks for every config; an empty list is read the same way, as no client means "none".
  if (!resource.configuration_keys || resource.configuration_keys->empty()) return true;
  for (const auto& key : *resource.configuration_keys) {
    if (key == name) return true;
  }
  return false;
}

void DescribeTopic(const Topic& topic, const BrokerLogDefaults& defaults,
                   const kafka::DescribeConfigsRequest& request,
                   const kafka::DescribeConfigsRequest::DescribeConfigsResource& resource,
                   Response::DescribeConfigsResult& result) {
  const auto effective = DescribeTopicConfigs(defaults, topic.configs);
  const auto broker_level = DescribeTopicConfigs(defaults, {});
  const auto built_in = DescribeTopicConfigs(BrokerLogDefaults{}, {});
  for (std::size_t i = 0; i < effective.size(); ++i) {
    const TopicConfigEntry& e = effective[i];
    if (!Wanted(resource, e.name)) continue;
    Entry out;
    out.name = e.name;
    out.value = e.value;
    out.config_source = static_cast<std::int8_t>(e.source);
    out.config_type = static_cast<std::int8_t>(e.type);
    if (request.include_documentation) out.documentation = e.documentation;
    if (request.include_synonyms) {
      // Highest precedence first, as Kafka lists them: the topic's own value, the broker's
      // configured value, the built-in default.
      const std::string broker_name(BrokerName(e.name));
      if (e.source == ConfigSource::kTopic) {
        out.synonyms.push_back(
            {e.name, e.value, static_cast<std::int8_t>(ConfigSource::kTopic), {}});
      }
      if (broker_level[i].source == ConfigSource::kStaticBroker) {
        out.synonyms.push_back({broker_name, broker_level[i].value,
                                static_cast<std::int8_t>(ConfigSource::kStaticBroker), {}});
      }
      out.synonyms.push_back(
          {broker_name, built_in[i].value, static_cast<std::int8_t>(ConfigSource::kDefault), {}});
    }
    result.configs.push_back(std::move(out));
  }
}

struct BrokerSetting {
  std::string name;
  std::string value;
  ConfigType type;
  bool is_default;  // equal to what tern-broker uses when nothing sets it
  std::string documentation;
};

std::vector<BrokerSetting> BrokerSettings(const BrokerContext& broker) {
  const BrokerConfig& c = broker.config();
  const BrokerConfig d{};
  auto number = [](auto v) { return std::to_string(v); };
  auto boolean = [](bool v) { return std::string(v ? "true" : "false"); };
  const std::string listener = c.listener ? "PLAINTEXT://" + c.listener->ToString() : "";
  return {
      {"node.id", number(c.node_id), ConfigType::kInt, false, "this broker's id"},
      {"log.dirs", c.data_dir, ConfigType::kList, false, "the directory holding the logs"},
      {"listeners", listener, ConfigType::kList, false, "where the broker accepts clients"},
      {"advertised.listeners", "PLAINTEXT://" + broker.advertised().ToString(),
       ConfigType::kList, false, "the address clients are told to connect to"},
      {"auto.create.topics.enable", boolean(c.auto_create_topics), ConfigType::kBoolean,
       c.auto_create_topics == d.auto_create_topics, "create unknown topics on first use"},
      {"num.partitions", number(c.default_partitions), ConfigType::kInt,
       c.default_partitions == d.default_partitions, "partitions of auto-created topics"},
      {"message.max.bytes", number(c.log.max_message_bytes), ConfigType::kInt,
       c.log.max_message_bytes == d.log.max_message_bytes, "largest record batch accepted"},
      {"log.segment.bytes", number(c.log.segment_bytes), ConfigType::kInt,
       c.log.segment_bytes == d.log.segment_bytes, "size at which a segment is rolled"},
      {"log.roll.ms", number(c.log.segment_ms), ConfigType::kLong,
       c.log.segment_ms == d.log.segment_ms, "age at which a segment is rolled, ms"},
      {"log.retention.ms", number(c.log.retention_ms), ConfigType::kLong,
       c.log.retention_ms == d.log.retention_ms, "age after which segments are deleted, ms"},
      {"log.retention.bytes", number(c.log.retention_bytes), ConfigType::kLong,
       c.log.retention_bytes == d.log.retention_bytes, "largest partition size kept"},
      {"log.index.interval.bytes", number(c.log.index_interval_bytes), ConfigType::kInt,
       c.log.index_interval_bytes == d.log.index_interval_bytes, "spacing of index entries"},
      {"log.cleanup.policy", c.log.cleanup_policy, ConfigType::kList,
       c.log.cleanup_policy == d.log.cleanup_policy, "default cleanup policy of topics"},
      {"log.retention.check.interval.ms", number(c.retention_check_interval_ms),
       ConfigType::kLong, c.retention_check_interval_ms == d.retention_check_interval_ms,
       "how often retention runs, ms"},
      {"socket.request.max.bytes", number(c.max_request_bytes), ConfigType::kInt,
       c.max_request_bytes == d.max_request_bytes, "largest request accepted"},
  };
}

void DescribeBroker(const BrokerContext& broker, const kafka::DescribeConfigsRequest& request,
                    const kafka::DescribeConfigsRequest::DescribeConfigsResource& resource,
                    Response::DescribeConfigsResult& result) {
  for (const auto& s : BrokerSettings(broker)) {
    if (!Wanted(resource, s.name)) continue;
    const auto source = static_cast<std::int8_t>(s.is_default ? ConfigSource::kDefault
                                                              : ConfigSource::kStaticBroker);
    Entry out;
    out.name = s.name;
    out.value = s.value;
    out.read_only = true;
    out.config_source = source;
    out.config_type = static_cast<std::int8_t>(s.type);
    if (request.include_documentation) out.documentation = s.documentation;
    if (request.include_synonyms) out.synonyms.push_back({s.name, s.value, source, {}});
    result.configs.push_back(std::move(out));
  }
}

}  // namespace

asio::awaitable<Result<Reply>> HandleDescribeConfigs(RequestContext& ctx, kafka::Reader& body,
                                                     kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DescribeConfigsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  Response response;
  for (const auto& resource : request.resources) {
    Response::DescribeConfigsResult result;
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    auto fail = [&](kafka::ErrorCode code, std::string message) {
      result.error_code = kafka::Code(code);
      result.error_message = std::move(message);
    };
    switch (resource.resource_type) {
      case kTopicResource:
        if (const Topic* topic = broker.topics().Find(resource.resource_name)) {
          DescribeTopic(*topic, broker.topics().defaults(), request, resource, result);
        } else {
          fail(kafka::ErrorCode::kUnknownTopicOrPartition,
               "topic '" + resource.resource_name + "' does not exist");
        }
        break;
      case kBrokerResource:
        // "" is the cluster-wide default resource, which holds only dynamic defaults: none here.
        if (resource.resource_name == std::to_string(broker.node_id())) {
          DescribeBroker(broker, request, resource, result);
        } else if (!resource.resource_name.empty()) {
          fail(kafka::ErrorCode::kInvalidRequest,
               "unexpected broker id '" + resource.resource_name + "': this is broker " +
                   std::to_string(broker.node_id()));
        }
        break;
      case kBrokerLoggerResource:
      case kClientMetricsResource:
      case kGroupResource:
        // Nothing of these is configurable here; an empty answer is what Kafka's tools expect
        // from a resource with nothing set.
        break;
      default:
        fail(kafka::ErrorCode::kInvalidRequest,
             "unknown resource type " + std::to_string(resource.resource_type));
    }
    response.results.push_back(std::move(result));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
