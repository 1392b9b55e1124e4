// Accepts client connections on the broker's listener and serves each one (ServeConnection)
// on the network thread's io_context until Stop().
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "broker/net/connection.h"
#include "common/host_port.h"
#include "common/status.h"

namespace tern::broker {

class Server {
 public:
  Server(asio::io_context& io, BrokerContext& broker, ConnectionLimits limits);

  // Binds and listens on `address`. Fails with IoError naming the address (e.g. in use).
  Status Listen(const HostPort& address);
  // The port actually bound (useful when listening on port 0).
  std::uint16_t port() const;
  // Starts accepting; connections are served on the io_context.
  void Start();
  // Stops accepting. Open connections end when the io_context stops.
  void Stop();

 private:
  asio::awaitable<void> AcceptLoop();

  asio::io_context& io_;
  BrokerContext& broker_;
  ConnectionLimits limits_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace tern::broker
