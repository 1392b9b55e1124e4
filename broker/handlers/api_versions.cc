// ApiVersions: lists every API and version range from the API table. A version the broker does
// not know is answered too — with UNSUPPORTED_VERSION and the list, in the v0 body — so a newer
// client can retry with a version both sides speak.
#include "broker/handlers/api_table.h"
#include "broker/handlers/handlers.h"
#include "kafka/error_code.h"

namespace tern::broker {

kafka::ApiVersionsResponse ApiVersionsFromTable() {
  kafka::ApiVersionsResponse response;
  for (const auto& api : ApiTable()) {
    response.api_keys.push_back({api.key, api.advertised_min_version, api.max_version, {}});
  }
  return response;
}

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
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
