// EndTxn: commits or aborts a producer's transaction (txn/txn_coordinator.h). Answered once
// the outcome is durable and its markers are written and durable in every partition of the
// transaction, so a read_committed consumer can read the records at once. A retry of an
// EndTxn that completed is answered NONE again.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleEndTxn(RequestContext& ctx, kafka::Reader& body,
                                            kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::EndTxnRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  constexpr std::int16_t kFirstEpochBumpVersion = 5;
  txn::EndTxnResult result = co_await ctx.broker.txns().EndTxn(
      request.transactional_id, request.producer_id, request.producer_epoch, request.committed,
      version >= kFirstEpochBumpVersion);
  if (result.error == kafka::ErrorCode::kProducerFenced && version < 2) {
    result.error = kafka::ErrorCode::kInvalidProducerEpoch;
  }
  kafka::EndTxnResponse response;
  response.error_code = kafka::Code(result.error);
  response.producer_id = result.producer_id;
  response.producer_epoch = result.producer_epoch;
  if (response.error_code != 0) ctx.broker.metrics().ErrorReturned("EndTxn", response.error_code);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
