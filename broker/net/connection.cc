#include "broker/net/connection.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>

#include "broker/broker_context.h"
#include "broker/handlers/api_table.h"
#include "kafka/request_header.h"

namespace tern::broker {
namespace {

using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

// A request's bytes after its size field. Not zero-filled first: the read overwrites them all,
// and a produce request may be megabytes.
struct Frame {
  std::unique_ptr<char[]> bytes;
  std::size_t size = 0;
  std::string_view view() const { return {bytes.get(), size}; }
};

// A response being prepared; the writer sends them strictly in queue order.
struct Pending {
  bool done = false;
  bool send = true;
  kafka::Writer frame;  // size prefix, response header, body (and file ranges)
};

// State shared by the reader loop, the writer loop and the request coroutines. Single
// threaded: everything runs on the network thread's executor.
struct Session {
  explicit Session(asio::ip::tcp::socket s)
      : socket(std::move(s)),
        wake_writer(socket.get_executor(), Clock::time_point::max()),
        wake_reader(socket.get_executor(), Clock::time_point::max()) {}

  asio::ip::tcp::socket socket;
  std::deque<std::shared_ptr<Pending>> queue;
  asio::steady_timer wake_writer;  // cancelled when the queue's front may be ready
  asio::steady_timer wake_reader;  // cancelled when a slot frees up
  bool closed = false;
  std::string peer;

  void Close() {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    wake_writer.cancel();
    wake_reader.cancel();
  }
};

asio::awaitable<void> Wait(asio::steady_timer& timer) {
  std::error_code ec;
  timer.expires_at(Clock::time_point::max());
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

// Sends `n` bytes of `range` with sendfile, waiting for the socket when its buffer is full.
asio::awaitable<bool> SendFileRange(Session& s, const kafka::FileRange& range) {
  off_t offset = range.position;
  std::int64_t left = range.length;
  s.socket.native_non_blocking(true);
  while (left > 0) {
    const ssize_t n = ::sendfile(s.socket.native_handle(), range.fd, &offset,
                                 static_cast<std::size_t>(left));
    if (n > 0) {
      left -= n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::error_code ec;
      co_await s.socket.async_wait(asio::socket_base::wait_write,
                                   asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      spdlog::warn("{}: sendfile failed: {}", s.peer, n == 0 ? "file ended early" : strerror(errno));
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> WriteFrame(Session& s, const kafka::Writer& frame) {
  const std::string& buf = frame.buffer();
  std::size_t written = 0;
  std::error_code ec;
  for (const auto& [pos, range] : frame.file_ranges()) {
    if (pos > written) {
      co_await asio::async_write(s.socket, asio::buffer(buf.data() + written, pos - written),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
      written = pos;
    }
    if (!co_await SendFileRange(s, range)) co_return false;
  }
  if (written < buf.size()) {
    co_await asio::async_write(s.socket, asio::buffer(buf.data() + written, buf.size() - written),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
  }
  co_return true;
}

asio::awaitable<void> WriterLoop(std::shared_ptr<Session> s) {
  while (!s->closed) {
    if (s->queue.empty() || !s->queue.front()->done) {
      co_await Wait(s->wake_writer);
      continue;
    }
    auto front = s->queue.front();
    if (front->send && !co_await WriteFrame(*s, front->frame)) {
      s->Close();
      break;
    }
    s->queue.pop_front();
    s->wake_reader.cancel();
  }
}

// Runs one request's handler and completes its slot in the queue.
asio::awaitable<void> HandleRequest(std::shared_ptr<Session> s, std::shared_ptr<Pending> slot,
                                    const ApiEntry* api, RequestContext ctx,
                                    Frame frame, std::size_t body_at) {
  const auto started = Clock::now();
  kafka::Reader body(frame.view().substr(body_at));
  const bool flexible_response =
      ctx.header.api_version >= api->first_flexible_version && api->key != 18;
  kafka::Writer& out = slot->frame;
  out.WriteInt32(0);  // size, patched below
  kafka::EncodeResponseHeader(out, ctx.header.correlation_id, flexible_response);
  auto reply = co_await api->handler(ctx, body, out);
  if (!reply.ok()) {
    spdlog::warn("{}: closing connection: {} v{} request: {}", s->peer, api->name,
                 ctx.header.api_version, reply.status().ToString());
    s->Close();
    co_return;
  }
  slot->send = reply.value() == Reply::kSend;
  out.PatchInt32(0, static_cast<std::int32_t>(out.size() - 4));
  BrokerMetrics& metrics = ctx.broker.metrics();
  metrics.RequestHandled(api->name,
                         std::chrono::duration<double>(Clock::now() - started).count());
  if (slot->send) metrics.BytesSent(out.size());
  slot->done = true;
  s->wake_writer.cancel();
}

// Reads the next frame; returns nothing when the connection ends or breaks a limit.
asio::awaitable<std::optional<Frame>> ReadFrame(Session& s, std::int32_t max_bytes) {
  char size_bytes[4];
  std::error_code ec;
  co_await asio::async_read(s.socket, asio::buffer(size_bytes), asio::redirect_error(use_awaitable, ec));
  if (ec) co_return std::nullopt;
  std::int32_t size = 0;
  kafka::Reader r(std::string_view(size_bytes, 4));
  (void)r.ReadInt32(&size);
  if (size < 8 || size > max_bytes) {
    spdlog::warn("{}: closing connection: request size {} outside 8..{}", s.peer, size, max_bytes);
    co_return std::nullopt;
  }
  Frame frame{std::make_unique_for_overwrite<char[]>(static_cast<std::size_t>(size)),
              static_cast<std::size_t>(size)};
  co_await asio::async_read(s.socket, asio::buffer(frame.bytes.get(), frame.size),
                            asio::redirect_error(use_awaitable, ec));
  if (ec) co_return std::nullopt;
  co_return frame;
}

}  // namespace

asio::awaitable<void> ServeConnection(asio::ip::tcp::socket socket, BrokerContext& broker,
                                      ConnectionLimits limits) {
  auto s = std::make_shared<Session>(std::move(socket));
  std::error_code ec;
  s->socket.set_option(asio::ip::tcp::no_delay(true), ec);
  const auto remote = s->socket.remote_endpoint(ec);
  s->peer = ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
  const auto executor = s->socket.get_executor();
  asio::co_spawn(executor, WriterLoop(s), asio::detached);
  broker.metrics().ConnectionOpened();

  while (!s->closed) {
    if (s->queue.size() >= limits.max_in_flight) {
      co_await Wait(s->wake_reader);
      continue;
    }
    auto frame = co_await ReadFrame(*s, limits.max_request_bytes);
    if (!frame) break;
    broker.metrics().BytesReceived(static_cast<std::int64_t>(frame->size) + 4);

    kafka::Reader r(frame->view());
    RequestContext ctx{kafka::RequestHeader{}, broker, s->peer};
    if (!kafka::DecodeRequestHeaderPrefix(r, &ctx.header)) break;
    const ApiEntry* api = FindApi(ctx.header.api_key);
    if (api == nullptr) {
      spdlog::warn("{}: closing connection: unsupported API key {}", s->peer, ctx.header.api_key);
      break;
    }
    const bool is_api_versions = api->key == 18;
    const std::int16_t version = ctx.header.api_version;
    if (version < api->min_version || (version > api->max_version && !is_api_versions)) {
      spdlog::warn("{}: closing connection: {} version {} outside {}..{}", s->peer, api->name,
                   version, api->min_version, api->max_version);
      break;
    }
    // An ApiVersions request newer than the broker still uses the flexible header (v2).
    const bool flexible_header = version >= api->first_flexible_version;
    if (!kafka::DecodeRequestHeaderRest(r, flexible_header, &ctx.header)) {
      spdlog::warn("{}: closing connection: {}", s->peer, r.status().ToString());
      break;
    }
    auto slot = std::make_shared<Pending>();
    s->queue.push_back(slot);
    const std::size_t body_at = frame->size - r.remaining();
    asio::co_spawn(executor,
                   HandleRequest(s, slot, api, std::move(ctx), std::move(*frame), body_at),
                   [s](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("{}: request failed: {}", s->peer, ex.what());
                     }
                     s->Close();
                   });
  }
  // Let requests already accepted finish and their responses go out, then close.
  while (!s->closed && !s->queue.empty()) co_await Wait(s->wake_reader);
  s->Close();
  broker.metrics().ConnectionClosed();
}

}  // namespace tern::broker
