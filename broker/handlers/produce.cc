// Produce: validates each partition's record batches (framing, magic 2, CRC-32C, codec, size),
// appends them as received — the broker only stamps base offsets — and answers once the data is
// durable under the broker's fsync policy (group commit). acks=0 gets no response at all.
// Batches of idempotent producers are checked against the partition's producer state inside
// the append (storage/partition_log.h): a retry of a batch already written is acknowledged with
// its original offsets once those are durable, a stale epoch gets INVALID_PRODUCER_EPOCH and a
// sequence gap OUT_OF_ORDER_SEQUENCE_NUMBER, as in Kafka. Transactional batches come with the
// request's transactional id and are accepted for a partition that the producer's open
// transaction holds (AddPartitionsToTxn; txn/txn_coordinator.h); otherwise INVALID_TXN_STATE,
// or INVALID_PRODUCER_EPOCH for a fenced producer. From v12 (transaction version 2, KIP-890)
// the write itself adds its partition to the transaction; the new transaction state is made
// durable with the data, before the answer.
#include <spdlog/spdlog.h>

#include <asio/use_awaitable.hpp>
#include <cstring>

#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"
#include "common/crc32c.h"
#include "kafka/compression.h"
#include "kafka/record_batch.h"
#include "kafka/records.h"
#include "kafka/wire.h"

namespace tern::broker {
namespace {

using Response = kafka::ProduceResponse;
using PartitionResponse = Response::PartitionProduceResponse;

constexpr int kZstdCodec = 4;
// attributes i16 at 21, lastOffsetDelta i32, baseTimestamp i64, then maxTimestamp i64.
constexpr std::size_t kMaxTimestampPosition = 35;
constexpr std::int16_t kFirstZstdVersion = 7;

// True when every record of the batch at the front of `batch` has a key. Compacted topics keep
// the latest record per key, so Kafka refuses keyless records for them.
bool AllRecordsKeyed(std::string_view batch, const kafka::RecordBatchHeader& h) {
  std::string_view records = batch.substr(kafka::kRecordBatchHeaderSize,
                                          static_cast<std::size_t>(h.size_in_bytes()) -
                                              kafka::kRecordBatchHeaderSize);
  std::string decompressed;
  if (h.codec() != 0) {
    auto d = kafka::Decompress(static_cast<kafka::Codec>(h.codec()), records,
                               64 * 1024 * 1024);
    if (!d.ok()) return false;
    decompressed = std::move(d).value();
    records = decompressed;
  }
  std::vector<kafka::Record> decoded;
  if (!kafka::DecodeRecords(records, h.records_count, &decoded).ok()) return false;
  for (const auto& r : decoded) {
    if (!r.key.has_value()) return false;
  }
  return true;
}

// Checks the batches of one partition; on failure sets the error in `out`.
bool Validate(const kafka::Records& records, std::int16_t version, const Topic& topic,
              const BrokerLogDefaults& defaults, bool has_transactional_id,
              std::vector<kafka::RecordBatchHeader>* headers, PartitionResponse& out) {
  auto fail = [&](kafka::ErrorCode code, std::string message) {
    out.error_code = kafka::Code(code);
    out.error_message = std::move(message);
    return false;
  };
  if (records.is_null() || records.bytes().empty()) {
    return fail(kafka::ErrorCode::kInvalidRecord, "no record batches");
  }
  auto batches = kafka::ValidateRecordBatches(records.bytes());
  if (!batches.ok()) {
    const bool damaged = batches.status().code() == Status::Code::kCorruption;
    return fail(damaged ? kafka::ErrorCode::kCorruptMessage : kafka::ErrorCode::kInvalidRecord,
                batches.status().message());
  }
  const TimestampPolicy policy = TimestampPolicyOf(topic.configs);
  const std::int64_t now = storage::SystemClockMs();
  const bool compacted = IsCompacted(defaults, topic.configs);
  std::size_t pos = 0;
  for (const auto& h : batches.value()) {
    const std::string_view batch = records.bytes().substr(pos);
    pos += static_cast<std::size_t>(h.size_in_bytes());
    if (compacted && !AllRecordsKeyed(batch, h)) {
      return fail(kafka::ErrorCode::kInvalidRecord,
                  "compacted topic " + topic.name + " needs a key on every record");
    }
    // CreateTime batches must lie within the topic's bounds around now; the batch header's
    // base and max timestamps bound every record in it.
    if (!policy.log_append_time && h.timestamp_type() == kafka::TimestampType::kCreateTime &&
        ((h.max_timestamp >= 0 && h.max_timestamp - now > policy.after_max_ms) ||
         (h.base_timestamp >= 0 && now - h.base_timestamp > policy.before_max_ms))) {
      return fail(kafka::ErrorCode::kInvalidTimestamp,
                  "record timestamp outside message.timestamp.before/after.max.ms of now");
    }
    if (h.codec() == kZstdCodec && version < kFirstZstdVersion) {
      return fail(kafka::ErrorCode::kUnsupportedCompressionType,
                  "zstd needs Produce version 7 or later");
    }
    if (h.is_control()) {
      return fail(kafka::ErrorCode::kInvalidRecord, "clients may not write control batches");
    }
    if (h.is_transactional() != has_transactional_id) {
      return fail(kafka::ErrorCode::kInvalidRecord,
                  has_transactional_id
                      ? "a request with a transactional id carries only transactional batches"
                      : "transactional batches need the request's transactional id");
    }
    if (h.is_transactional() && (h.producer_id != batches.value().front().producer_id ||
                                 h.producer_epoch != batches.value().front().producer_epoch)) {
      return fail(kafka::ErrorCode::kInvalidRecord,
                  "the transactional batches of a partition come from one producer");
    }
    if (h.producer_id >= 0 && h.base_sequence < 0) {
      return fail(kafka::ErrorCode::kInvalidRecord,
                  "a batch with producer id " + std::to_string(h.producer_id) +
                      " needs a sequence number");
    }
  }
  *headers = std::move(batches).value();
  return true;
}

// For message.timestamp.type=LogAppendTime: marks every batch as log-append-time with `now` as
// its max timestamp, and recomputes the CRC those fields are covered by.
std::string StampLogAppendTime(std::string_view batches, std::int64_t now) {
  std::string out(batches);
  std::size_t pos = 0;
  while (pos + kafka::kRecordBatchHeaderSize <= out.size()) {
    auto header = kafka::ParseRecordBatchHeader(std::string_view(out).substr(pos));
    if (!header.ok()) break;
    char* batch = out.data() + pos;
    kafka::Writer w;
    w.WriteInt16(static_cast<std::int16_t>(header.value().attributes | 0x08));
    std::memcpy(batch + kafka::kAttributesPosition, w.buffer().data(), 2);
    kafka::Writer ts;
    ts.WriteInt64(now);
    std::memcpy(batch + kMaxTimestampPosition, ts.buffer().data(), 8);
    const auto size = static_cast<std::size_t>(header.value().size_in_bytes());
    const std::uint32_t crc = crc32c::Value(batch + kafka::kAttributesPosition,
                                            size - kafka::kAttributesPosition);
    kafka::Writer c;
    c.WriteUint32(crc);
    std::memcpy(batch + kafka::kCrcPosition, c.buffer().data(), 4);
    pos += size;
  }
  return out;
}

constexpr std::int16_t kFirstImplicitAddVersion = 12;

// For a transactional request: whether the producer's open transaction holds the partition.
// From v12 the partition joins the transaction here; `state_logs` gets the log of the new
// transaction state, which must be durable before the answer.
bool TransactionAllows(BrokerContext& broker, std::int16_t version,
                       const std::optional<std::string>& transactional_id,
                       const std::vector<kafka::RecordBatchHeader>& headers, const Topic& topic,
                       std::int32_t partition, PartitionResponse& out,
                       std::vector<std::shared_ptr<storage::PartitionLog>>& state_logs) {
  if (!transactional_id.has_value()) return true;
  if (version >= kFirstImplicitAddVersion) {
    txn::ImplicitAdd added = broker.txns().AddPartitionForWrite(
        *transactional_id, headers.front().producer_id, headers.front().producer_epoch,
        topic.name, partition);
    if (added.error == kafka::ErrorCode::kNone) {
      if (added.state_log != nullptr) state_logs.push_back(std::move(added.state_log));
      return true;
    }
    // As Kafka's partition leaders answer it.
    out.error_code = kafka::Code(added.error == kafka::ErrorCode::kProducerFenced
                                     ? kafka::ErrorCode::kInvalidProducerEpoch
                                     : added.error);
    out.error_message = "partition " + topic.name + "-" + std::to_string(partition) +
                        " could not join the transaction of " + *transactional_id;
    return false;
  }
  const kafka::ErrorCode error =
      broker.txns().CheckWrite(*transactional_id, headers.front().producer_id,
                               headers.front().producer_epoch, topic.name, partition);
  if (error == kafka::ErrorCode::kNone) return true;
  out.error_code = kafka::Code(error == kafka::ErrorCode::kInvalidProducerIdMapping
                                   ? kafka::ErrorCode::kInvalidTxnState
                                   : error);
  out.error_message = "partition " + topic.name + "-" + std::to_string(partition) +
                      " is not in the open transaction of " + *transactional_id;
  return false;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleProduce(RequestContext& ctx, kafka::Reader& body,
                                             kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ProduceRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  Topics& topics = broker.topics();
  const bool valid_acks = request.acks == -1 || request.acks == 0 || request.acks == 1;

  Response response;
  std::vector<std::shared_ptr<storage::PartitionLog>> appended;
  std::vector<DataNotifier::Key> touched;
  for (const auto& topic_data : request.topic_data) {
    Response::TopicProduceResponse topic_response;
    topic_response.name = topic_data.name;
    topic_response.topic_id = topic_data.topic_id;
    const Topic* topic = version >= 13 ? topics.FindById(topic_data.topic_id)
                                       : topics.Find(topic_data.name);
    if (topic == nullptr && version < 13 && broker.config().auto_create_topics &&
        Topics::ValidateName(topic_data.name).ok()) {
      auto created = topics.Create(topic_data.name, broker.config().default_partitions, {});
      if (created.ok()) topic = created.value();
    }
    for (const auto& partition_data : topic_data.partition_data) {
      PartitionResponse p;
      p.index = partition_data.index;
      p.base_offset = -1;
      if (!valid_acks) {
        p.error_code = kafka::Code(kafka::ErrorCode::kInvalidRequiredAcks);
      } else if (topic == nullptr) {
        p.error_code = kafka::Code(version >= 13 ? kafka::ErrorCode::kUnknownTopicId
                                                 : kafka::ErrorCode::kUnknownTopicOrPartition);
      } else if (topic->internal) {
        // As Kafka: only the broker writes its internal topics (__consumer_offsets).
        p.error_code = kafka::Code(kafka::ErrorCode::kInvalidTopicException);
        p.error_message = "cannot append to internal topic " + topic_data.name;
      } else if (partition_data.index < 0 ||
                 partition_data.index >= static_cast<std::int32_t>(topic->partitions.size())) {
        p.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition);
      } else if (auto log = topic->partitions[static_cast<std::size_t>(partition_data.index)].log;
                 log == nullptr) {
        p.error_code = kafka::Code(kafka::ErrorCode::kKafkaStorageError);
      } else if (std::vector<kafka::RecordBatchHeader> headers;
                 Validate(partition_data.records, version, *topic, topics.defaults(),
                          request.transactional_id.has_value(), &headers, p) &&
                 TransactionAllows(broker, version, request.transactional_id, headers, *topic,
                                   partition_data.index, p, appended)) {
        const bool append_time = TimestampPolicyOf(topic->configs).log_append_time;
        const std::int64_t now = storage::SystemClockMs();
        std::string stamped;
        if (append_time) stamped = StampLogAppendTime(partition_data.records.bytes(), now);
        auto result = log->Append(append_time ? std::string_view(stamped)
                                              : partition_data.records.bytes());
        if (result.ok() && result.value().error != kafka::ErrorCode::kNone) {
          p.error_code = kafka::Code(result.value().error);
          p.error_message = result.value().error_message;
        } else if (result.ok() && result.value().duplicate) {
          // Acknowledged like the original, and only once the original is durable.
          broker.metrics().DuplicateBatch();
          p.base_offset = result.value().first_offset;
          if (append_time) p.log_append_time_ms = result.value().max_timestamp;
          p.log_start_offset = log->log_start_offset();
          appended.push_back(log);
        } else if (result.ok()) {
          if (append_time) p.log_append_time_ms = now;
          p.base_offset = result.value().first_offset;
          p.log_start_offset = log->log_start_offset();
          appended.push_back(log);
          touched.emplace_back(topic->name, partition_data.index);
        } else {
          p.error_code = kafka::Code(ToKafkaError(result.status()));
          p.error_message = result.status().message();
          spdlog::warn("{}: append to {}-{} failed: {}", ctx.peer, topic->name,
                       partition_data.index, result.status().ToString());
        }
      }
      topic_response.partition_responses.push_back(std::move(p));
    }
    response.responses.push_back(std::move(topic_response));
  }

  // Under fsync "always" consumers see data only once it is durable (the high watermark is the
  // durable end), so even acks=0 data goes through the group commit before waking fetches.
  if (!appended.empty() && broker.config().fsync == FsyncPolicy::kAlways) {
    const Status durable =
        co_await broker.group_commit().WaitDurable(std::move(appended), asio::use_awaitable);
    if (!durable.ok()) {
      // The data may or may not be on disk: the client must not count it as written.
      for (auto& t : response.responses) {
        for (auto& p : t.partition_responses) {
          if (p.error_code == 0) {
            p.error_code = kafka::Code(kafka::ErrorCode::kKafkaStorageError);
            p.error_message = durable.message();
          }
        }
      }
    }
  }
  for (const auto& key : touched) broker.notifier().Notify(key);
  for (const auto& t : response.responses) {
    for (const auto& p : t.partition_responses) {
      if (p.error_code != 0) broker.metrics().ErrorReturned("Produce", p.error_code);
    }
  }
  if (request.acks == 0) co_return Reply::kNone;
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
