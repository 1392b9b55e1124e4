#include "broker/net/server.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace tern::broker {

Server::Server(asio::io_context& io, BrokerContext& broker, ConnectionLimits limits)
    : io_(io), broker_(broker), limits_(limits), acceptor_(io) {}

Status Server::Listen(const HostPort& address) {
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec || endpoints.empty()) {
    return Status::IoError("cannot resolve " + address.ToString() + ": " + ec.message());
  }
  const auto endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("cannot listen on " + address.ToString() + ": " + ec.message());
  return Status::Ok();
}

std::uint16_t Server::port() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Server::Start() { asio::co_spawn(io_, AcceptLoop(), asio::detached); }

void Server::Stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> Server::AcceptLoop() {
  while (acceptor_.is_open()) {
    std::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors and the like: keep serving the connections we have.
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(io_, ServeConnection(std::move(socket), broker_, limits_),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("connection ended by an error: {}", ex.what());
                     }
                   });
  }
}

}  // namespace tern::broker
