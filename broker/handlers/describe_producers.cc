// DescribeProducers: the idempotent and transactional producers each partition knows — id,
// epoch, last sequence, last batch's timestamp, coordinator epoch and the first offset of an
// open transaction (-1 for none) — as kafka-transactions.sh describe-producers shows them.
// UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist, KAFKA_STORAGE_ERROR for one
// that is offline.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleDescribeProducers(RequestContext& ctx, kafka::Reader& body,
                                                       kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DescribeProducersRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  kafka::DescribeProducersResponse response;
  for (const auto& t : request.topics) {
    auto& rt = response.topics.emplace_back();
    rt.name = t.name;
    const Topic* topic = ctx.broker.topics().Find(t.name);
    for (std::int32_t index : t.partition_indexes) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = index;
      if (topic == nullptr || index < 0 ||
          index >= static_cast<std::int32_t>(topic->partitions.size())) {
        rp.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      const auto& log = topic->partitions[static_cast<std::size_t>(index)].log;
      if (log == nullptr) {
        rp.error_code = kafka::Code(kafka::ErrorCode::kKafkaStorageError);
        continue;
      }
      const txn::ProducerStateTable state = log->producer_state();
      for (const auto& [id, entry] : state.producers()) {
        auto& p = rp.active_producers.emplace_back();
        p.producer_id = id;
        p.producer_epoch = entry.epoch;
        p.last_sequence = entry.last_sequence();
        p.last_timestamp = entry.batches.empty() ? -1 : entry.batches.back().max_timestamp;
        p.coordinator_epoch = entry.coordinator_epoch;
        p.current_txn_start_offset = entry.txn_first_offset;
      }
    }
  }
  for (const auto& rt : response.topics) {
    for (const auto& rp : rt.partitions) {
      if (rp.error_code != 0) ctx.broker.metrics().ErrorReturned("DescribeProducers", rp.error_code);
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
