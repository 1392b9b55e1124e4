// Declarations of the handlers, one per Kafka API, each defined in its own file named after the
// API (api_versions.cc, metadata.cc, produce.cc, ...). The API table lists them.
#pragma once

#include "broker/handlers/handler.h"
#include "kafka/messages/api_versions.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleApiVersions(RequestContext& ctx, kafka::Reader& body,
                                                 kafka::Writer& out);

}  // namespace tern::broker
