// ApiVersions: lists every API and version range from the API table. A version the broker does
// not know is answered too — with UNSUPPORTED_VERSION and the list, in the v0 body — so a newer
// client can retry with a version both sides speak.
//
// v3+ also lists the features (KIP-584): transaction.version, supported 0..2 and finalized at
// the configured level (transactions.version), which tells Kafka 4's Java producer whether to
// run transaction version 2 (KIP-890). As Kafka: v3 leaves out supported features whose
// minimum is 0 (older clients refuse such ranges), and a feature finalized at 0 is not listed.
// The features epoch is the broker's start time, so a client sees a restarted broker's level
// as newer than the one it knew.
#include "broker/handlers/api_table.h"
#include "broker/handlers/handlers.h"
#include "broker/broker_context.h"
#include "broker/storage/log_config.h"
#include "kafka/error_code.h"

namespace tern::broker {

kafka::ApiVersionsResponse ApiVersionsFromTable() {
  kafka::ApiVersionsResponse response;
  for (const auto& api : ApiTable()) {
    response.api_keys.push_back({api.key, api.advertised_min_version, api.max_version, {}});
  }
  return response;
}

namespace {

constexpr const char* kTransactionVersion = "transaction.version";
constexpr std::int16_t kMaxTransactionVersion = 2;

void AddFeatures(kafka::ApiVersionsResponse& response, std::int16_t version,
                 std::int16_t transaction_version) {
  static const std::int64_t features_epoch = storage::SystemClockMs();
  if (version >= 4) {
    response.supported_features.push_back({kTransactionVersion, 0, kMaxTransactionVersion, {}});
  }
  response.finalized_features_epoch = features_epoch;
  if (transaction_version > 0) {
    response.finalized_features.push_back(
        {kTransactionVersion, transaction_version, transaction_version, {}});
  }
}

}  // namespace

asio::awaitable<Result<Reply>> HandleApiVersions(RequestContext& ctx, kafka::Reader& body,
                                                 kafka::Writer& out) {
  auto response = ApiVersionsFromTable();
  const std::int16_t version = ctx.header.api_version;
  if (version > kafka::ApiVersionsRequest::kMaxVersion) {
    response.error_code = kafka::Code(kafka::ErrorCode::kUnsupportedVersion);
    response.Encode(out, 0);
    co_return Reply::kSend;
  }
  kafka::ApiVersionsRequest request;
  if (!request.Decode(body, version)) {
    // KIP-511: a malformed ApiVersions request still gets an answer the client can read.
    response.error_code = kafka::Code(kafka::ErrorCode::kInvalidRequest);
  }
  if (version >= 3) AddFeatures(response, version, ctx.broker.config().transactions.version);
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
