// ListTransactions: the transactional ids this coordinator knows, filtered by state (Kafka's
// names; unknown names are listed back in unknown_state_filters), producer id, age (v1+:
// transactions open at least duration_filter ms) and id pattern (v2+: a regular expression
// the whole id must match; an invalid one is INVALID_REGULAR_EXPRESSION).
#include <regex>

#include "broker/broker_context.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {

asio::awaitable<Result<Reply>> HandleListTransactions(RequestContext& ctx, kafka::Reader& body,
                                                      kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ListTransactionsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  kafka::ListTransactionsResponse response;

  std::set<txn::TxnState> states;
  for (const auto& name : request.state_filters) {
    txn::TxnState state;
    if (txn::TxnStateFromName(name, &state)) {
      states.insert(state);
    } else {
      response.unknown_state_filters.push_back(name);
    }
  }
  std::optional<std::regex> pattern;
  if (request.transactional_id_pattern.has_value() && !request.transactional_id_pattern->empty()) {
    try {
      pattern.emplace(*request.transactional_id_pattern);
    } catch (const std::regex_error&) {
      response.error_code = kafka::Code(kafka::ErrorCode::kInvalidRegularExpression);
      ctx.broker.metrics().ErrorReturned("ListTransactions", response.error_code);
      response.Encode(out, version);
      co_return Reply::kSend;
    }
  }
  const std::set<std::int64_t> producers(request.producer_id_filters.begin(),
                                         request.producer_id_filters.end());
  const std::int64_t now = storage::SystemClockMs();
  // With only unknown states asked for, nothing matches (Kafka's behaviour).
  const bool only_unknown = !request.state_filters.empty() && states.empty();
  for (const auto& [id, t] : ctx.broker.txns().transactions()) {
    if (only_unknown) break;
    if (!states.empty() && states.count(t.state) == 0) continue;
    if (!producers.empty() && producers.count(t.producer_id) == 0) continue;
    if (request.duration_filter >= 0 &&
        (t.state != txn::TxnState::kOngoing || now - t.start_ms < request.duration_filter)) {
      continue;
    }
    if (pattern && !std::regex_match(id, *pattern)) continue;
    auto& s = response.transaction_states.emplace_back();
    s.transactional_id = id;
    s.producer_id = t.producer_id;
    s.transaction_state = std::string(txn::TxnStateName(t.state));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
