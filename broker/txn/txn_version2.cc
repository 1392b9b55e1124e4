// TxnCoordinator: the rules of transaction version 2 (KIP-890) — EndTxn v5+ bumping the epoch
// on every commit and abort (a new producer id once it runs out), and a transactional write
// (Produce v12+, TxnOffsetCommit v5+) adding its partition to the transaction itself.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "broker/txn/txn_coordinator.h"
#include "broker/txn/txn_coordinator_internal.h"

namespace tern::broker::txn {

using namespace internal;  // NOLINT: this file's share of the coordinator

asio::awaitable<EndTxnResult> TxnCoordinator::EndTxnBumpingEpoch(
    const std::string& transactional_id, std::int64_t producer_id, std::int16_t producer_epoch,
    bool commit) {
  constexpr std::int16_t kMaxEpoch = std::numeric_limits<std::int16_t>::max();
  auto it = txns_.find(transactional_id);
  if (it == txns_.end()) co_return EndTxnError(ErrorCode::kInvalidProducerIdMapping);
  const TxnLogValue& txn = it->second;
  const bool completed =
      txn.state == TxnState::kCompleteCommit || txn.state == TxnState::kCompleteAbort;
  // A retry of the EndTxn that bumped the epoch (or, when the epoch ran out, the producer id).
  const bool retry =
      (txn.producer_id == producer_id && producer_epoch + 1 == txn.producer_epoch) ||
      (txn.previous_producer_id >= 0 && txn.previous_producer_id == producer_id &&
       producer_epoch >= kMaxEpoch - 1 &&
       txn.producer_epoch == 0);
  if (!retry && txn.producer_id != producer_id) {
    co_return EndTxnError(ErrorCode::kInvalidProducerIdMapping);
  }
  if (retry) {
    if (Preparing(txn.state)) co_return EndTxnError(ErrorCode::kConcurrentTransactions);
    if (!completed) co_return EndTxnError(ErrorCode::kProducerFenced);
    const bool same = commit == (txn.state == TxnState::kCompleteCommit);
    // A commit meeting an abort at the next epoch: the coordinator aborted the transaction
    // (its timeout), which fences the producer.
    if (!same && commit) co_return EndTxnError(ErrorCode::kProducerFenced);
    if (!same) co_return EndTxnError(ErrorCode::kInvalidTxnState);
    co_return EndTxnResult{ErrorCode::kNone, txn.producer_id, txn.producer_epoch};
  }
  if (producer_epoch != txn.producer_epoch) co_return EndTxnError(ErrorCode::kProducerFenced);
  if (Preparing(txn.state)) co_return EndTxnError(ErrorCode::kConcurrentTransactions);
  // An abort with nothing open still bumps the epoch (as after initTransactions, or a
  // transaction whose writes all failed); a commit needs an open transaction.
  const bool open = txn.state == TxnState::kOngoing;
  if (!open && (commit || (txn.state != TxnState::kEmpty && !completed))) {
    co_return EndTxnError(ErrorCode::kInvalidTxnState);
  }
  std::int64_t next_producer_id = -1;
  if (producer_epoch >= kMaxEpoch - 1) {
    Result<std::int64_t> id = producer_ids_.Next();
    if (!id.ok()) {
      spdlog::error("no producer id for {}: {}", transactional_id, id.status().ToString());
      co_return EndTxnError(ErrorCode::kCoordinatorNotAvailable);
    }
    next_producer_id = id.value();
  }
  const auto epoch = static_cast<std::int16_t>(std::min<int>(producer_epoch + 1, kMaxEpoch));
  // Not open (Empty, Complete*): no partitions, so the abort writes no markers.
  BusyGuard busy(busy_, transactional_id);
  if (Status s = co_await EndTransaction(transactional_id, commit, epoch,
                                         commit ? "commit" : "abort", next_producer_id);
      !s.ok()) {
    spdlog::error("ending the transaction of {}: {}", transactional_id, s.ToString());
    co_return EndTxnError(ErrorCode::kCoordinatorNotAvailable);
  }
  const TxnLogValue& now = txns_.at(transactional_id);
  co_return EndTxnResult{ErrorCode::kNone, now.producer_id, now.producer_epoch};
}

ImplicitAdd TxnCoordinator::AddPartitionForWrite(const std::string& transactional_id,
                                                 std::int64_t producer_id,
                                                 std::int16_t producer_epoch,
                                                 const std::string& topic,
                                                 std::int32_t partition) {
  if (!Available(transactional_id)) return ImplicitAddError(ErrorCode::kCoordinatorNotAvailable);
  if (busy_.count(transactional_id) != 0) return ImplicitAddError(ErrorCode::kConcurrentTransactions);
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) {
    return ImplicitAddError(ErrorCode::kInvalidProducerIdMapping);
  }
  if (producer_epoch != it->second.producer_epoch) return ImplicitAddError(ErrorCode::kProducerFenced);
  if (Preparing(it->second.state)) return ImplicitAddError(ErrorCode::kConcurrentTransactions);
  TxnLogValue next = it->second;
  if (next.state != TxnState::kOngoing) {
    next.state = TxnState::kOngoing;
    next.partitions.clear();
    next.start_ms = NowMs();
  }
  if (!next.partitions[topic].insert(partition).second) return ImplicitAdd{};
  next.last_update_ms = NowMs();
  KeepMoveFields(next);
  auto log = AppendRecordNow(transactional_id, EncodeTxnLogValue(next));
  if (!log.ok()) {
    spdlog::error("writing the state of {}: {}", transactional_id, log.status().ToString());
    return ImplicitAddError(ErrorCode::kCoordinatorNotAvailable);
  }
  it->second = std::move(next);
  ReportOpen();
  return ImplicitAdd{ErrorCode::kNone, std::move(log.value())};
}

}  // namespace tern::broker::txn
