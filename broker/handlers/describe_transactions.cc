// DescribeTransactions: the state of each transactional id asked for — state, timeout, start
// time, producer id and epoch, and the partitions of its open transaction —
// TRANSACTIONAL_ID_NOT_FOUND for an id the coordinator does not know.
#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleDescribeTransactions(RequestContext& ctx,
                                                          kafka::Reader& body,
                                                          kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::DescribeTransactionsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  kafka::DescribeTransactionsResponse response;
  const auto& txns = ctx.broker.txns().transactions();
  for (const auto& id : request.transactional_ids) {
    auto& s = response.transaction_states.emplace_back();
    s.transactional_id = id;
    auto it = txns.find(id);
    if (it == txns.end()) {
      s.error_code = kafka::Code(kafka::ErrorCode::kTransactionalIdNotFound);
      s.producer_id = -1;
      s.producer_epoch = -1;
      s.transaction_start_time_ms = -1;
      ctx.broker.metrics().ErrorReturned("DescribeTransactions", s.error_code);
      continue;
    }
    const txn::TxnLogValue& t = it->second;
    s.transaction_state = std::string(txn::TxnStateName(t.state));
    s.transaction_timeout_ms = t.timeout_ms;
    s.transaction_start_time_ms = t.start_ms;
    s.producer_id = t.producer_id;
    s.producer_epoch = t.producer_epoch;
    for (const auto& [topic, partitions] : t.partitions) {
      auto& d = s.topics.emplace_back();
      d.topic = topic;
      d.partitions.assign(partitions.begin(), partitions.end());
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
