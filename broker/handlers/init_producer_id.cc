// InitProducerId: gives an idempotent producer (no transactional id) a new producer id with
// epoch 0, from the durable id reservation (txn/producer_ids.h). As in Kafka 4, a producer that
// names its current id and epoch (KIP-360, v3+: after an error it cannot recover from in place)
// also gets a new id with epoch 0: for producers without a transactional id Kafka keeps no
// record of the ids it issued, so there is nothing to bump or fence.
//
// Transactional ids are refused with UNSUPPORTED_VERSION until transactions are served: both
// librdkafka and the Java client treat it as fatal and report it at once, where a retriable code
// (COORDINATOR_NOT_AVAILABLE, CONCURRENT_TRANSACTIONS) would make them retry forever, librdkafka
// also retries INVALID_REQUEST, and an authorization error would send operators after ACLs that
// do not exist. The response has no message field, so the broker logs why.
#include <spdlog/spdlog.h>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"

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
    spdlog::warn("{}: InitProducerId for transactional id '{}' refused: transactions are not "
                 "served by this broker yet",
                 ctx.peer, *request.transactional_id);
    fail(kafka::ErrorCode::kUnsupportedVersion);
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
