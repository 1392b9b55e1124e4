// AddOffsetsToTxn: puts the __consumer_offsets partition of a group in a producer's
// transaction, so that TxnOffsetCommit may commit the group's offsets in it and EndTxn writes
// a marker there that makes them visible (commit) or drops them (abort).
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/group/offsets_records.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleAddOffsetsToTxn(RequestContext& ctx, kafka::Reader& body,
                                                     kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::AddOffsetsToTxnRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  kafka::AddOffsetsToTxnResponse response;
  if (request.group_id.empty()) {
    response.error_code = kafka::Code(kafka::ErrorCode::kInvalidGroupId);
  } else {
    const std::int32_t partition = ctx.broker.groups().offsets().PartitionFor(request.group_id);
    const std::string topic = group::kOffsetsTopic;
    txn::TxnPartitions partitions;
    partitions[topic].insert(partition);
    auto errors = co_await ctx.broker.txns().AddPartitions(
        request.transactional_id, request.producer_id, request.producer_epoch,
        std::move(partitions));
    kafka::ErrorCode error = errors[topic][partition];
    if (error == kafka::ErrorCode::kProducerFenced && version < 2) {
      error = kafka::ErrorCode::kInvalidProducerEpoch;
    }
    response.error_code = kafka::Code(error);
  }
  if (response.error_code != 0) {
    ctx.broker.metrics().ErrorReturned("AddOffsetsToTxn", response.error_code);
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
