// tern-broker: parses its flags, prepares the data directory, binds the client listener and
// serves until SIGINT or SIGTERM.
#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "config/command_line.h"
#include "config/program_flags.h"
#include "tern/version.h"

namespace {

constexpr const char* kProgram = "tern-broker";

int Fail(const std::string& what) {
  std::cerr << kProgram << ": error: " << what << '\n';
  return 1;
}

// Accepts connections until the io_context stops. The Kafka protocol handlers are not part of
// this build yet, so a connection is closed as soon as it is accepted.
void AcceptLoop(asio::ip::tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::error_code ignored;
      spdlog::debug("closing connection from {}", socket.remote_endpoint(ignored).address()
                                                      .to_string());
      socket.close(ignored);
    }
    AcceptLoop(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  tern::SetProgramIdentity(app, kProgram);
  tern::BrokerFlags flags;
  tern::DefineBrokerFlags(app, flags);
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;

  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) return Fail("cannot create data directory '" + flags.data_dir + "': " + ec.message());

  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(flags.listen.host, std::to_string(flags.listen.port), ec);
  if (ec || endpoints.empty()) {
    return Fail("cannot resolve --listen " + flags.listen.ToString() + ": " + ec.message());
  }
  asio::ip::tcp::acceptor acceptor(io);
  const auto endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail("cannot listen on " + flags.listen.ToString() + ": " + ec.message());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int signo) {
    spdlog::info("signal {} received, shutting down", signo);
    acceptor.close();
  });
  AcceptLoop(acceptor);

  spdlog::info("{} {} listening on {}, data in {}", kProgram, tern::kVersion,
               flags.listen.ToString(), flags.data_dir);
  io.run();
  spdlog::info("stopped");
  return 0;
}
