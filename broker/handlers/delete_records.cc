// DeleteRecords: moves the start of each partition's log up to the asked offset (-1: the high
// watermark), deleting the segments wholly below it, and answers the new log start as the low
// watermark. Errors are per partition.
#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::DeleteRecordsResponse;

constexpr std::int64_t kHighWatermark = -1;
constexpr std::int64_t kNoLowWatermark = -1;  // what Kafka answers with an error

// Kafka refuses DeleteRecords on a topic that is compacted only: deleting by offset is a
// retention action, which such a topic has opted out of.
bool AllowsDeletion(const Topic& topic, const BrokerLogDefaults& defaults) {
  for (const auto& e : DescribeTopicConfigs(defaults, topic.configs)) {
    if (e.name == "cleanup.policy") return e.value.find("delete") != std::string::npos;
  }
  return true;
}

Response::DeleteRecordsPartitionResult DeletePartition(
    BrokerContext& broker, const Topic* topic,
    const kafka::DeleteRecordsRequest::DeleteRecordsPartition& want) {
  Response::DeleteRecordsPartitionResult r;
  r.partition_index = want.partition_index;
  r.low_watermark = kNoLowWatermark;
  auto fail = [&](kafka::ErrorCode code) {
    r.error_code = kafka::Code(code);
    return r;
  };
  if (topic == nullptr || want.partition_index < 0 ||
      want.partition_index >= static_cast<std::int32_t>(topic->partitions.size())) {
    return fail(kafka::ErrorCode::kUnknownTopicOrPartition);
  }
  auto log = broker.topics().Log(topic->name, want.partition_index);
  if (log == nullptr) return fail(kafka::ErrorCode::kKafkaStorageError);
  if (!AllowsDeletion(*topic, broker.topics().defaults())) {
    return fail(kafka::ErrorCode::kPolicyViolation);
  }
  // Only acknowledged data may be deleted up to: the same high watermark Fetch serves.
  const std::int64_t hw = broker.config().fsync == FsyncPolicy::kAlways ? log->durable_end_offset()
                                                                        : log->log_end_offset();
  const std::int64_t offset = want.offset == kHighWatermark ? hw : want.offset;
  if (offset < 0 || offset > hw) return fail(kafka::ErrorCode::kOffsetOutOfRange);
  if (Status s = log->DeleteRecordsBefore(offset); !s.ok()) return fail(ToKafkaError(s));
  r.low_watermark = log->log_start_offset();
  return r;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleDeleteRecords(RequestContext& ctx, kafka::Reader& body,
                                                   kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DeleteRecordsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  Response response;
  for (const auto& want : request.topics) {
    Response::DeleteRecordsTopicResult t;
    t.name = want.name;
    const Topic* topic = broker.topics().Find(want.name);
    for (const auto& wp : want.partitions) {
      t.partitions.push_back(DeletePartition(broker, topic, wp));
    }
    response.topics.push_back(std::move(t));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
