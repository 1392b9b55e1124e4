// AddPartitionsToTxn: puts partitions in a producer's transaction (txn/txn_coordinator.h), so
// that it may write to them and EndTxn writes its markers there. v0-3 carry one transaction
// from a client; v4+ carry several, as brokers send them, with verify_only to check that the
// partitions are in the transaction already. Answered per partition.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {
namespace {

using Request = kafka::AddPartitionsToTxnRequest;
using Response = kafka::AddPartitionsToTxnResponse;

constexpr std::int16_t kFirstBatchedVersion = 4;
constexpr std::int16_t kFirstProducerFencedVersion = 2;

txn::TxnPartitions PartitionsOf(const std::vector<Request::AddPartitionsToTxnTopic>& topics) {
  txn::TxnPartitions out;
  for (const auto& t : topics) out[t.name].insert(t.partitions.begin(), t.partitions.end());
  return out;
}

std::vector<Response::AddPartitionsToTxnTopicResult> Results(
    const std::map<std::string, std::map<std::int32_t, kafka::ErrorCode>>& errors,
    std::int16_t version) {
  std::vector<Response::AddPartitionsToTxnTopicResult> out;
  for (const auto& [topic, partitions] : errors) {
    Response::AddPartitionsToTxnTopicResult& t = out.emplace_back();
    t.name = topic;
    for (const auto& [partition, code] : partitions) {
      kafka::ErrorCode error = code;
      if (error == kafka::ErrorCode::kProducerFenced && version < kFirstProducerFencedVersion) {
        error = kafka::ErrorCode::kInvalidProducerEpoch;
      }
      Response::AddPartitionsToTxnPartitionResult& r = t.results_by_partition.emplace_back();
      r.partition_index = partition;
      r.partition_error_code = kafka::Code(error);
    }
  }
  return out;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleAddPartitionsToTxn(RequestContext& ctx, kafka::Reader& body,
                                                        kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();
  txn::TxnCoordinator& txns = ctx.broker.txns();
  Response response;
  if (version < kFirstBatchedVersion) {
    auto errors = co_await txns.AddPartitions(
        request.v3_and_below_transactional_id, request.v3_and_below_producer_id,
        request.v3_and_below_producer_epoch, PartitionsOf(request.v3_and_below_topics));
    response.results_by_topic_v3_and_below = Results(errors, version);
  } else {
    for (const auto& t : request.transactions) {
      auto errors = co_await txns.AddPartitions(t.transactional_id, t.producer_id,
                                                t.producer_epoch, PartitionsOf(t.topics),
                                                t.verify_only);
      Response::AddPartitionsToTxnResult& result = response.results_by_transaction.emplace_back();
      result.transactional_id = t.transactional_id;
      result.topic_results = Results(errors, version);
    }
  }
  auto count = [&](const std::vector<Response::AddPartitionsToTxnTopicResult>& topics) {
    for (const auto& t : topics) {
      for (const auto& p : t.results_by_partition) {
        if (p.partition_error_code != 0) {
          ctx.broker.metrics().ErrorReturned("AddPartitionsToTxn", p.partition_error_code);
        }
      }
    }
  };
  count(response.results_by_topic_v3_and_below);
  for (const auto& r : response.results_by_transaction) count(r.topic_results);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
