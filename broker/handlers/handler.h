// The shape every Kafka API handler shares: decode the request body, do the work, encode the
// response body. The connection has already read the request header and checked the version
// against the API table; the handler writes only the body (the connection adds the response
// header). Handlers run on the broker's network thread and may suspend (co_await) to wait for
// durability or for data to arrive; requests on one connection are still answered in order.
#pragma once

#include <asio/awaitable.hpp>
#include <string>

#include "common/result.h"
#include "common/status.h"
#include "kafka/request_header.h"
#include "kafka/wire.h"

namespace tern::broker {

class BrokerContext;

struct RequestContext {
  kafka::RequestHeader header;
  BrokerContext& broker;
  std::string peer;  // "address:port" of the client, for logs
};

enum class Reply {
  kSend,  // send the encoded response
  kNone,  // send nothing (Produce with acks=0)
};

// A handler returns a non-OK Status only when the request is malformed beyond what a response
// can express; the connection is then closed. Errors a client can act on go in the response.
using Handler = asio::awaitable<Result<Reply>> (*)(RequestContext& ctx, kafka::Reader& body,
                                                  kafka::Writer& out);

}  // namespace tern::broker
