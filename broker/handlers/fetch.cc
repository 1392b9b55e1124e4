// Fetch: whole record batches from each requested partition, sent from the segment files with
// sendfile. Long polling: when fewer than min_bytes are available the request waits, up to
// max_wait_ms, for appends to any of its partitions. The high watermark is the durable end of
// the log under fsync "always" (consumers never see data a crash could take back), the log end
// otherwise. read_committed (isolation level 1) reads below the last stable offset only — the
// first offset of the oldest transaction not yet ended — and gets the aborted transactions
// among the records returned, so the client drops their records. Fetch sessions (KIP-227) are declined: every response has session id 0, which
// tells clients to keep sending full fetch requests.
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Response = kafka::FetchResponse;

std::int64_t HighWatermark(const BrokerContext& broker, const storage::PartitionLog& log) {
  return broker.config().fsync == FsyncPolicy::kAlways ? log.durable_end_offset()
                                                       : log.log_end_offset();
}

struct Built {
  Response response;
  std::int64_t bytes = 0;
  bool error = false;
  std::vector<DataNotifier::Key> keys;
};

Built Build(BrokerContext& broker, const kafka::FetchRequest& request, std::int16_t version) {
  Built b;
  Topics& topics = broker.topics();
  std::int64_t budget = request.max_bytes;
  for (const auto& want : request.topics) {
    Response::FetchableTopicResponse t;
    t.topic = want.topic;
    t.topic_id = want.topic_id;
    const Topic* topic = version >= 13 ? topics.FindById(want.topic_id) : topics.Find(want.topic);
    for (const auto& wp : want.partitions) {
      Response::PartitionData p;
      p.partition_index = wp.partition;
      p.high_watermark = -1;
      // Null for read_uncommitted, as Kafka sends it; read_committed gets the list.
      if (request.isolation_level != 1) p.aborted_transactions.reset();
      // Clients read a records size even beside an error; Kafka sends an empty set, not null.
      p.records = kafka::Records::Owned("");
      auto fail = [&](kafka::ErrorCode code) {
        p.error_code = kafka::Code(code);
        b.error = true;
      };
      if (topic == nullptr) {
        fail(version >= 13 ? kafka::ErrorCode::kUnknownTopicId
                           : kafka::ErrorCode::kUnknownTopicOrPartition);
      } else if (wp.partition < 0 ||
                 wp.partition >= static_cast<std::int32_t>(topic->partitions.size())) {
        fail(kafka::ErrorCode::kUnknownTopicOrPartition);
      } else if (const auto& log = topic->partitions[static_cast<std::size_t>(wp.partition)].log;
                 log == nullptr) {
        fail(kafka::ErrorCode::kKafkaStorageError);
      } else {
        b.keys.emplace_back(topic->name, wp.partition);
        const std::int64_t hw = HighWatermark(broker, *log);
        const std::int64_t lso = log->LastStableOffset(hw);
        const bool read_committed = p.aborted_transactions.has_value();
        const std::int64_t bound = read_committed ? lso : hw;
        p.high_watermark = hw;
        p.last_stable_offset = lso;
        p.log_start_offset = log->log_start_offset();
        if (wp.fetch_offset > hw && wp.fetch_offset <= log->log_end_offset()) {
          // Appended but not yet durable: nothing to return yet, not an error.
        } else {
          const auto limit = static_cast<std::int32_t>(
              std::max<std::int64_t>(0, std::min<std::int64_t>(wp.partition_max_bytes, budget)));
          auto read = log->Read(wp.fetch_offset, limit, /*min_one_batch=*/b.bytes == 0, bound);
          if (!read.ok()) {
            fail(ToKafkaError(read.status()));
          } else {
            for (const auto& a :
                 read_committed
                     ? log->AbortedTransactions(wp.fetch_offset, read.value().next_offset)
                     : std::vector<txn::AbortedTxn>()) {
              Response::AbortedTransaction& entry = p.aborted_transactions->emplace_back();
              entry.producer_id = a.producer_id;
              entry.first_offset = a.first_offset;
            }
            p.records = kafka::Records::Files(std::move(read.value().ranges));
            b.bytes += read.value().bytes;
            budget -= read.value().bytes;
          }
        }
      }
      t.partitions.push_back(std::move(p));
    }
    b.response.responses.push_back(std::move(t));
  }
  return b;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleFetch(RequestContext& ctx, kafka::Reader& body,
                                           kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::FetchRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  if (version >= 7 && request.session_id != 0) {
    Response response;
    response.error_code = kafka::Code(kafka::ErrorCode::kFetchSessionIdNotFound);
    response.Encode(out, version);
    co_return Reply::kSend;
  }

  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(0, request.max_wait_ms));
  Built built = Build(broker, request, version);
  while (!built.error && built.bytes < request.min_bytes &&
         std::chrono::steady_clock::now() < deadline) {
    asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
    for (const auto& key : built.keys) broker.notifier().Add(key, &timer);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    for (const auto& key : built.keys) broker.notifier().Remove(key, &timer);
    built = Build(broker, request, version);
  }
  for (const auto& t : built.response.responses) {
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) broker.metrics().ErrorReturned("Fetch", p.error_code);
    }
  }
  built.response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
