// InitProducerId: gives an idempotent producer (no transactional id) a new producer id with
// epoch 0, from the durable id reservation (txn/producer_ids.h). As in Kafka 4, a producer that
// names its current id and epoch (KIP-360, v3+: after an error it cannot recover from in place)
// also gets a new id with epoch 0: for producers without a transactional id Kafka keeps no
// record of the ids it issued, so there is nothing to bump or fence.
//
// With a transactional id the transaction coordinator (txn/txn_coordinator.h) answers: the id's
// producer id with its epoch bumped (a new id for a new transactional id), fencing every older
// instance; an open transaction of the id is aborted first. v3+ may name the id and epoch the
// producer holds (KIP-360); a mismatch is PRODUCER_FENCED. Clients older than v4 know
// INVALID_PRODUCER_EPOCH for it.
#include <spdlog/spdlog.h>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleInitProducerId(RequestContext& ctx, kafka::Reader& body,
                                                    kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::InitProducerIdRequest request;
  if (!request.Decode(body, version)) co_return body.status();

  kafka::InitProducerIdResponse response;
  response.producer_id = -1;
  response.producer_epoch = -1;
  auto fail = [&](kafka::ErrorCode code) { response.error_code = kafka::Code(code); };
  const bool names_producer = request.producer_id != -1;
  if (names_producer != (request.producer_epoch != -1)) {
    // Kafka: an id without an epoch, or an epoch without an id.
    fail(kafka::ErrorCode::kInvalidRequest);
  } else if (request.transactional_id.has_value() && request.transactional_id->empty()) {
    fail(kafka::ErrorCode::kInvalidRequest);
  } else if (request.transactional_id.has_value()) {
    std::optional<std::pair<std::int64_t, std::int16_t>> expected;
    if (names_producer) expected.emplace(request.producer_id, request.producer_epoch);
    const txn::InitProducerIdResult result = co_await ctx.broker.txns().InitProducerId(
        *request.transactional_id, request.transaction_timeout_ms, expected);
    kafka::ErrorCode error = result.error;
    if (error == kafka::ErrorCode::kProducerFenced && version < 4) {
      error = kafka::ErrorCode::kInvalidProducerEpoch;
    }
    fail(error);
    if (error == kafka::ErrorCode::kNone) {
      response.producer_id = result.producer_id;
      response.producer_epoch = result.producer_epoch;
    }
  } else if (Result<std::int64_t> id = ctx.broker.producer_ids().Next(); !id.ok()) {
    spdlog::error("{}: no producer id to give: {}", ctx.peer, id.status().ToString());
    fail(kafka::ErrorCode::kUnknownServerError);
  } else {
    response.producer_id = id.value();
    response.producer_epoch = 0;
  }
  if (response.error_code != 0) {
    ctx.broker.metrics().ErrorReturned("InitProducerId", response.error_code);
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
