// BrokerMetrics: what the broker's components report, behind a small interface so that only
// prometheus_metrics.cc knows prometheus-cpp and tests can count with a fake. Calls may come
// from any thread; implementations must be thread-safe. NoMetrics ignores everything.
#pragma once

#include <cstdint>
#include <string_view>

namespace tern::broker {

class BrokerMetrics {
 public:
  virtual ~BrokerMetrics() = default;
  // A request of `api` finished after `seconds`, whatever its outcome.
  virtual void RequestHandled(std::string_view api, double seconds) = 0;
  // An error code a response carried (per partition or per topic), by API.
  virtual void ErrorReturned(std::string_view api, std::int16_t error_code) = 0;
  // An idempotent producer resent a batch already in the log; it was acknowledged with its
  // original offsets instead of being written again.
  virtual void DuplicateBatch() = 0;
  // A transaction ended: outcome "commit", "abort" (the producer's EndTxn or a new instance
  // fencing it) or "timeout" (aborted by the coordinator past its timeout).
  virtual void TransactionEnded(std::string_view outcome) = 0;
  // Transactions open now (state Ongoing or being ended), across every transactional id.
  virtual void TransactionsOpen(std::int64_t count) = 0;
  virtual void BytesReceived(std::int64_t bytes) = 0;
  virtual void BytesSent(std::int64_t bytes) = 0;
  virtual void ConnectionOpened() = 0;
  virtual void ConnectionClosed() = 0;
};

class NoMetrics final : public BrokerMetrics {
 public:
  void RequestHandled(std::string_view, double) override {}
  void ErrorReturned(std::string_view, std::int16_t) override {}
  void DuplicateBatch() override {}
  void TransactionEnded(std::string_view) override {}
  void TransactionsOpen(std::int64_t) override {}
  void BytesReceived(std::int64_t) override {}
  void BytesSent(std::int64_t) override {}
  void ConnectionOpened() override {}
  void ConnectionClosed() override {}
};

}  // namespace tern::broker
