// What the transaction coordinator's files share (txn_coordinator.cc, txn_version2.cc): the
// clock of its records, error answers, state tests, and the busy mark of an id with an
// operation in flight. Internal to broker/txn/.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "broker/txn/txn_coordinator.h"

namespace tern::broker::txn::internal {

using kafka::ErrorCode;

inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline EndTxnResult EndTxnError(ErrorCode error) {
  EndTxnResult result;
  result.error = error;
  return result;
}

inline ImplicitAdd ImplicitAddError(ErrorCode error) {
  ImplicitAdd result;
  result.error = error;
  return result;
}

inline bool Preparing(TxnState s) {
  return s == TxnState::kPrepareCommit || s == TxnState::kPrepareAbort ||
         s == TxnState::kPrepareEpochFence;
}

// Transaction version 2's tagged fields belong to one state each: the producer id a prepared
// transaction moves to (its epoch ran out), and the one a completed transaction moved from,
// which answers a retry of its EndTxn; later states drop them.
inline void KeepMoveFields(TxnLogValue& v) {
  if (!Preparing(v.state)) {
    v.next_producer_id = -1;
    v.next_producer_epoch = -1;
  }
  if (v.state != TxnState::kCompleteCommit && v.state != TxnState::kCompleteAbort) {
    v.previous_producer_id = -1;
  }
}

// Releases an id's busy mark when the operation ends, however it ends.
class BusyGuard {
 public:
  BusyGuard(std::set<std::string>& busy, std::string id) : busy_(busy), id_(std::move(id)) {
    busy_.insert(id_);
  }
  ~BusyGuard() { busy_.erase(id_); }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  std::set<std::string>& busy_;
  std::string id_;
};

}  // namespace tern::broker::txn::internal
