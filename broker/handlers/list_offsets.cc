// ListOffsets: the earliest (-2), latest (-1) or max-timestamp (-3) offset of each partition,
// or the first offset whose timestamp is at least the one asked for. -4 (earliest local) is the
// earliest, as all data is local; -5 (latest tiered) finds nothing, as nothing is tiered.
#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

constexpr std::int64_t kLatest = -1;
constexpr std::int64_t kEarliest = -2;
constexpr std::int64_t kMaxTimestamp = -3;
constexpr std::int64_t kEarliestLocal = -4;
constexpr std::int64_t kLatestTiered = -5;

}  // namespace

asio::awaitable<Result<Reply>> HandleListOffsets(RequestContext& ctx, kafka::Reader& body,
                                                 kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ListOffsetsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  kafka::ListOffsetsResponse response;
  for (const auto& want : request.topics) {
    kafka::ListOffsetsResponse::ListOffsetsTopicResponse t;
    t.name = want.name;
    for (const auto& wp : want.partitions) {
      kafka::ListOffsetsResponse::ListOffsetsPartitionResponse p;
      p.partition_index = wp.partition_index;
      auto log = broker.topics().Log(want.name, wp.partition_index);
      if (log == nullptr) {
        p.error_code = kafka::Code(broker.topics().Find(want.name) != nullptr
                                       ? kafka::ErrorCode::kKafkaStorageError
                                       : kafka::ErrorCode::kUnknownTopicOrPartition);
        if (broker.topics().Find(want.name) != nullptr &&
            wp.partition_index >= static_cast<std::int32_t>(
                                      broker.topics().Find(want.name)->partitions.size())) {
          p.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition);
        }
        t.partitions.push_back(std::move(p));
        continue;
      }
      const std::int64_t hw = broker.config().fsync == FsyncPolicy::kAlways
                                  ? log->durable_end_offset()
                                  : log->log_end_offset();
      p.leader_epoch = 0;
      switch (wp.timestamp) {
        case kLatest:
          p.offset = hw;
          break;
        case kEarliest:
        case kEarliestLocal:
          p.offset = log->log_start_offset();
          break;
        case kLatestTiered:
          break;
        case kMaxTimestamp:
          if (auto m = log->MaxTimestampOffset()) {
            p.offset = m->offset;
            p.timestamp = m->timestamp;
          }
          break;
        default: {
          if (wp.timestamp < 0) {
            p.error_code = kafka::Code(kafka::ErrorCode::kInvalidRequest);
            break;
          }
          auto found = log->OffsetForTimestamp(wp.timestamp);
          if (!found.ok()) {
            p.error_code = kafka::Code(ToKafkaError(found.status()));
          } else if (found.value() && found.value()->offset < hw) {
            p.offset = found.value()->offset;
            p.timestamp = found.value()->timestamp;
          }
        }
      }
      t.partitions.push_back(std::move(p));
    }
    response.topics.push_back(std::move(t));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
