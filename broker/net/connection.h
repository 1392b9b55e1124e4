// One client connection: reads request frames, hands each to its API handler, and writes the
// responses back in the order the requests arrived. Several requests of one connection may be
// in progress at once (a producer's pipelined batches share one group commit), but at most
// `max_in_flight`; a request's synchronous work (decoding, appending) starts in arrival order.
//
// Malformed input never reaches beyond this connection: an oversized frame, an unknown API,
// an unsupported version or undecodable bytes close this connection alone, after logging why.
// Runs on the broker's network thread; owned by the coroutine that Server spawns for it.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>

namespace tern::broker {

class BrokerContext;

struct ConnectionLimits {
  std::int32_t max_request_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
  std::size_t max_in_flight = 32;                      // requests in progress per connection
};

// Serves `socket` until the client closes it, an error occurs, or the broker stops.
asio::awaitable<void> ServeConnection(asio::ip::tcp::socket socket, BrokerContext& broker,
                                      ConnectionLimits limits);

}  // namespace tern::broker
