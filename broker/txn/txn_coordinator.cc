#include "broker/txn/txn_coordinator.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <limits>

#include "broker/storage/record_reader.h"
#include "broker/txn/txn_coordinator_internal.h"
#include "kafka/record_batch_builder.h"

namespace tern::broker::txn {
namespace {

using kafka::ErrorCode;

constexpr std::int64_t kSegmentBytes = 100LL * 1024 * 1024;  // transaction.state.log.segment.bytes
constexpr std::int64_t kMarkerRetryMs = 1000;
constexpr const char* kOffsetsTopic = "__consumer_offsets";

}  // namespace

using namespace internal;  // NOLINT: the coordinator's shared helpers

TxnCoordinator::TxnCoordinator(const TxnCoordinatorConfig& config, Topics& topics,
                               GroupCommit& group_commit, ProducerIdAllocator& producer_ids,
                               DataNotifier& notifier, BrokerMetrics& metrics,
                               asio::any_io_executor executor,
                               std::vector<std::shared_ptr<storage::PartitionLog>> logs)
    : config_(config),
      topics_(topics),
      group_commit_(group_commit),
      producer_ids_(producer_ids),
      notifier_(notifier),
      metrics_(metrics),
      executor_(executor),
      logs_(std::move(logs)),
      timer_(executor) {}

Result<std::unique_ptr<TxnCoordinator>> TxnCoordinator::Open(const TxnCoordinatorConfig& config,
                                                             Topics& topics,
                                                             GroupCommit& group_commit,
                                                             ProducerIdAllocator& producer_ids,
                                                             DataNotifier& notifier,
                                                             BrokerMetrics& metrics,
                                                             asio::any_io_executor executor) {
  const Topic* topic = topics.Find(kTransactionStateTopic);
  if (topic == nullptr) {
    const TopicConfigs configs = {{"cleanup.policy", "compact"},
                                  {"segment.bytes", std::to_string(kSegmentBytes)}};
    auto created = topics.Create(kTransactionStateTopic, config.partitions, configs);
    if (!created.ok()) {
      return Status::IoError(std::string("cannot create ") + kTransactionStateTopic + ": " +
                             created.status().ToString());
    }
    topic = created.value();
  }
  std::vector<std::shared_ptr<storage::PartitionLog>> logs;
  for (const auto& p : topic->partitions) logs.push_back(p.log);
  std::unique_ptr<TxnCoordinator> coordinator(new TxnCoordinator(
      config, topics, group_commit, producer_ids, notifier, metrics, executor, std::move(logs)));
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(coordinator->logs_.size()); ++i) {
    if (coordinator->logs_[static_cast<std::size_t>(i)] == nullptr) {
      spdlog::error("{}-{} is offline: its transactional ids are unavailable",
                    kTransactionStateTopic, i);
      coordinator->unavailable_.insert(i);
      continue;
    }
    if (Status s = coordinator->Load(i); !s.ok()) {
      spdlog::error("{}-{} cannot be loaded, its transactional ids are unavailable: {}",
                    kTransactionStateTopic, i, s.ToString());
      coordinator->unavailable_.insert(i);
    }
  }
  std::size_t open = 0;
  for (const auto& [id, txn] : coordinator->txns_) {
    if (txn.state == TxnState::kOngoing || Preparing(txn.state)) ++open;
  }
  spdlog::info("loaded {} transactional ids ({} with a transaction in progress) from {}",
               coordinator->txns_.size(), open, kTransactionStateTopic);
  coordinator->ReportOpen();
  return coordinator;
}

Status TxnCoordinator::Load(std::int32_t partition) {
  return storage::ForEachRecordBatch(
      *logs_[static_cast<std::size_t>(partition)],
      [&](const kafka::RecordBatchHeader& h, const std::vector<kafka::Record>& records) {
        if (h.is_control()) return Status::Ok();
        for (const auto& record : records) {
          if (!record.key.has_value()) continue;
          auto id = DecodeTxnLogKey(*record.key);
          if (!id.ok()) {
            spdlog::warn("{}-{} offset {}: skipping a record: {}", kTransactionStateTopic,
                         partition, h.base_offset + record.offset_delta,
                         id.status().ToString());
            continue;
          }
          if (!record.value.has_value()) {
            txns_.erase(id.value());
            continue;
          }
          auto value = DecodeTxnLogValue(*record.value);
          if (!value.ok()) {
            spdlog::warn("{}-{} offset {}: skipping the state of {}: {}", kTransactionStateTopic,
                         partition, h.base_offset + record.offset_delta, id.value(),
                         value.status().ToString());
            continue;
          }
          txns_[id.value()] = std::move(value).value();
        }
        return Status::Ok();
      });
}

void TxnCoordinator::ReportOpen() {
  std::int64_t open = 0;
  for (const auto& [id, txn] : txns_) {
    if (txn.state == TxnState::kOngoing || Preparing(txn.state)) ++open;
  }
  metrics_.TransactionsOpen(open);
}

bool TxnCoordinator::Available(const std::string& transactional_id) const {
  const std::int32_t p =
      PartitionForTransactionalId(transactional_id, static_cast<std::int32_t>(logs_.size()));
  return unavailable_.count(p) == 0;
}

void TxnCoordinator::Start() {
  std::vector<std::string> prepared;
  for (const auto& [id, txn] : txns_) {
    if (Preparing(txn.state)) prepared.push_back(id);
  }
  for (std::string& id : prepared) {
    asio::co_spawn(
        executor_,
        [this, id = std::move(id)]() -> asio::awaitable<void> {
          BusyGuard busy(busy_, id);
          spdlog::info("completing the prepared transaction of {}", id);
          if (Status s = co_await Complete(id); !s.ok()) {
            spdlog::error("completing the transaction of {}: {}", id, s.ToString());
          }
        },
        asio::detached);
  }
  asio::co_spawn(executor_, TimeoutLoop(), asio::detached);
}

void TxnCoordinator::Stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> TxnCoordinator::TimeoutLoop() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::milliseconds(config_.abort_check_interval_ms));
    std::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    co_await AbortTimedOut(NowMs());
    co_await ExpireIds(NowMs());
  }
}

asio::awaitable<std::size_t> TxnCoordinator::AbortTimedOut(std::int64_t now_ms) {
  auto timed_out = [&](const TxnLogValue& txn) {
    return txn.state == TxnState::kOngoing && now_ms - txn.start_ms > txn.timeout_ms;
  };
  std::vector<std::string> expired;
  for (const auto& [id, txn] : txns_) {
    if (timed_out(txn) && busy_.count(id) == 0) expired.push_back(id);
  }
  std::size_t aborted = 0;
  for (const std::string& id : expired) {
    // Checked again: while an earlier abort was written this id may have ended its
    // transaction and opened a new one (a write alone opens one, with transaction version 2).
    if (busy_.count(id) != 0) continue;
    auto it = txns_.find(id);
    if (it == txns_.end() || !timed_out(it->second)) continue;
    BusyGuard busy(busy_, id);
    // The bumped epoch fences the producer that let its transaction time out.
    const std::int16_t epoch = it->second.producer_epoch < std::numeric_limits<std::int16_t>::max()
                                   ? static_cast<std::int16_t>(it->second.producer_epoch + 1)
                                   : it->second.producer_epoch;
    spdlog::info("aborting the transaction of {} (producer {}), open longer than its timeout of "
                 "{} ms",
                 id, it->second.producer_id, it->second.timeout_ms);
    if (Status s = co_await EndTransaction(id, false, epoch, "timeout"); !s.ok()) {
      spdlog::error("aborting the timed-out transaction of {}: {}", id, s.ToString());
      continue;
    }
    ++aborted;
  }
  co_return aborted;
}

asio::awaitable<std::size_t> TxnCoordinator::ExpireIds(std::int64_t now_ms) {
  auto is_idle = [&](const TxnLogValue& txn) {
    const bool settled = txn.state == TxnState::kEmpty ||
                         txn.state == TxnState::kCompleteCommit ||
                         txn.state == TxnState::kCompleteAbort;
    return settled && now_ms - txn.last_update_ms > config_.id_expiration_ms;
  };
  std::vector<std::string> idle;
  for (const auto& [id, txn] : txns_) {
    if (is_idle(txn) && busy_.count(id) == 0) idle.push_back(id);
  }
  std::size_t expired = 0;
  for (const std::string& id : idle) {
    // Checked again: the id may have been used while earlier tombstones were written.
    auto it = txns_.find(id);
    if (busy_.count(id) != 0 || it == txns_.end() || !is_idle(it->second)) continue;
    BusyGuard busy(busy_, id);
    if (Status s = co_await WriteTombstone(id); !s.ok()) {
      spdlog::warn("forgetting the idle transactional id {}: {}", id, s.ToString());
      continue;
    }
    ++expired;
  }
  if (expired > 0) {
    spdlog::info("forgot {} transactional id(s) idle for more than {} ms", expired,
                 config_.id_expiration_ms);
  }
  co_return expired;
}

Result<std::shared_ptr<storage::PartitionLog>> TxnCoordinator::AppendRecordNow(
    const std::string& transactional_id, std::optional<std::string> value) {
  const std::int32_t partition =
      PartitionForTransactionalId(transactional_id, static_cast<std::int32_t>(logs_.size()));
  std::shared_ptr<storage::PartitionLog> log = logs_[static_cast<std::size_t>(partition)];
  if (log == nullptr || unavailable_.count(partition) != 0) {
    return Status::Unavailable(std::string(kTransactionStateTopic) + "-" +
                               std::to_string(partition) + " is offline");
  }
  kafka::RecordToBuild record;
  record.key = EncodeTxnLogKey(transactional_id);
  record.value = std::move(value);
  record.timestamp = NowMs();
  auto appended = log->Append(kafka::BuildRecordBatch({record}));
  if (!appended.ok()) return appended.status();
  return log;
}

asio::awaitable<Status> TxnCoordinator::AppendRecord(const std::string& transactional_id,
                                                     std::optional<std::string> value,
                                                     bool wait) {
  auto appended = AppendRecordNow(transactional_id, std::move(value));
  if (!appended.ok()) co_return appended.status();
  std::shared_ptr<storage::PartitionLog> log = std::move(appended.value());
  if (config_.wait_for_fsync) {
    std::vector<std::shared_ptr<storage::PartitionLog>> to_sync{log};
    if (!wait) {
      // Made durable by the next group commit round, without holding up the caller.
      group_commit_.WaitDurable(std::move(to_sync), asio::detached);
    } else if (Status durable =
                   co_await group_commit_.WaitDurable(std::move(to_sync), asio::use_awaitable);
               !durable.ok()) {
      co_return durable;
    }
  }
  co_return Status::Ok();
}

asio::awaitable<Status> TxnCoordinator::WriteTombstone(const std::string& transactional_id) {
  if (Status s = co_await AppendRecord(transactional_id, std::nullopt, true); !s.ok()) {
    co_return s;
  }
  txns_.erase(transactional_id);
  co_return Status::Ok();
}

asio::awaitable<Status> TxnCoordinator::WriteState(const std::string& transactional_id,
                                                   TxnLogValue value, bool wait) {
  value.last_update_ms = NowMs();
  KeepMoveFields(value);
  if (Status s = co_await AppendRecord(transactional_id, EncodeTxnLogValue(value), wait);
      !s.ok()) {
    co_return s;
  }
  txns_[transactional_id] = std::move(value);
  ReportOpen();
  co_return Status::Ok();
}

asio::awaitable<InitProducerIdResult> TxnCoordinator::InitProducerId(
    std::string transactional_id, std::int32_t timeout_ms,
    std::optional<std::pair<std::int64_t, std::int16_t>> expected) {
  InitProducerIdResult result;
  if (timeout_ms <= 0 || timeout_ms > config_.max_timeout_ms) {
    result.error = ErrorCode::kInvalidTransactionTimeout;
    co_return result;
  }
  if (!Available(transactional_id)) {
    result.error = ErrorCode::kCoordinatorNotAvailable;
    co_return result;
  }
  if (busy_.count(transactional_id) != 0) {
    result.error = ErrorCode::kConcurrentTransactions;
    co_return result;
  }
  BusyGuard busy(busy_, transactional_id);
  auto it = txns_.find(transactional_id);
  if (it != txns_.end() && expected.has_value() &&
      (expected->first != it->second.producer_id || expected->second != it->second.producer_epoch)) {
    result.error = ErrorCode::kProducerFenced;
    co_return result;
  }
  if (it != txns_.end() && Preparing(it->second.state)) {
    // Left prepared by a failed marker write: finish it first.
    if (Status s = co_await Complete(transactional_id); !s.ok()) {
      result.error = ErrorCode::kConcurrentTransactions;
      co_return result;
    }
    it = txns_.find(transactional_id);
  }
  if (it != txns_.end() && it->second.state == TxnState::kOngoing) {
    // A new instance of the producer: the old one's transaction is aborted, fenced by a bumped
    // epoch.
    const std::int16_t fence = static_cast<std::int16_t>(
        std::min<int>(it->second.producer_epoch + 1, std::numeric_limits<std::int16_t>::max()));
    if (Status s = co_await EndTransaction(transactional_id, false, fence, "abort"); !s.ok()) {
      spdlog::error("aborting the open transaction of {}: {}", transactional_id, s.ToString());
      result.error = ErrorCode::kConcurrentTransactions;
      co_return result;
    }
    it = txns_.find(transactional_id);
  }

  TxnLogValue next;
  if (it == txns_.end() || it->second.producer_epoch >= std::numeric_limits<std::int16_t>::max() - 1) {
    // A new id, or an epoch about to run out: a new producer id starts at epoch 0.
    Result<std::int64_t> id = producer_ids_.Next();
    if (!id.ok()) {
      spdlog::error("no producer id for {}: {}", transactional_id, id.status().ToString());
      result.error = ErrorCode::kCoordinatorNotAvailable;
      co_return result;
    }
    next.producer_id = id.value();
    next.producer_epoch = 0;
  } else {
    next.producer_id = it->second.producer_id;
    next.producer_epoch = static_cast<std::int16_t>(it->second.producer_epoch + 1);
  }
  next.timeout_ms = timeout_ms;
  next.state = TxnState::kEmpty;
  next.start_ms = -1;
  if (Status s = co_await WriteState(transactional_id, next); !s.ok()) {
    spdlog::error("writing the state of {}: {}", transactional_id, s.ToString());
    result.error = ErrorCode::kCoordinatorNotAvailable;
    co_return result;
  }
  result.producer_id = next.producer_id;
  result.producer_epoch = next.producer_epoch;
  co_return result;
}

asio::awaitable<std::map<std::string, std::map<std::int32_t, ErrorCode>>>
TxnCoordinator::AddPartitions(std::string transactional_id, std::int64_t producer_id,
                              std::int16_t producer_epoch, TxnPartitions partitions,
                              bool verify_only) {
  std::map<std::string, std::map<std::int32_t, ErrorCode>> out;
  auto answer_all = [&](ErrorCode code) {
    for (const auto& [topic, ps] : partitions) {
      for (std::int32_t p : ps) out[topic][p] = code;
    }
    return out;
  };
  if (!Available(transactional_id)) co_return answer_all(ErrorCode::kCoordinatorNotAvailable);
  if (busy_.count(transactional_id) != 0) co_return answer_all(ErrorCode::kConcurrentTransactions);
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) {
    co_return answer_all(ErrorCode::kInvalidProducerIdMapping);
  }
  if (producer_epoch != it->second.producer_epoch) {
    co_return answer_all(ErrorCode::kProducerFenced);
  }
  if (Preparing(it->second.state)) co_return answer_all(ErrorCode::kConcurrentTransactions);

  if (verify_only) {
    for (const auto& [topic, ps] : partitions) {
      for (std::int32_t p : ps) {
        const auto t = it->second.partitions.find(topic);
        const bool in = it->second.state == TxnState::kOngoing &&
                        t != it->second.partitions.end() && t->second.count(p) != 0;
        out[topic][p] = in ? ErrorCode::kNone : ErrorCode::kInvalidTxnState;
      }
    }
    co_return out;
  }

  bool unknown = false;
  for (const auto& [topic, ps] : partitions) {
    const Topic* t = topics_.Find(topic);
    for (std::int32_t p : ps) {
      const bool exists = t != nullptr && p >= 0 && p < static_cast<std::int32_t>(t->partitions.size());
      unknown = unknown || !exists;
      out[topic][p] = exists ? ErrorCode::kNone : ErrorCode::kUnknownTopicOrPartition;
    }
  }
  if (unknown) {
    for (auto& [topic, ps] : out) {
      for (auto& [p, code] : ps) {
        if (code == ErrorCode::kNone) code = ErrorCode::kOperationNotAttempted;
      }
    }
    co_return out;
  }

  TxnLogValue next = it->second;
  bool added = next.state != TxnState::kOngoing;
  if (next.state != TxnState::kOngoing) {
    next.state = TxnState::kOngoing;
    next.partitions.clear();
    next.start_ms = NowMs();
  }
  for (const auto& [topic, ps] : partitions) {
    for (std::int32_t p : ps) added = next.partitions[topic].insert(p).second || added;
  }
  if (!added) co_return out;  // all of them were in the transaction already
  BusyGuard busy(busy_, transactional_id);
  if (Status s = co_await WriteState(transactional_id, std::move(next)); !s.ok()) {
    spdlog::error("writing the state of {}: {}", transactional_id, s.ToString());
    co_return answer_all(ErrorCode::kCoordinatorNotAvailable);
  }
  co_return out;
}

asio::awaitable<EndTxnResult> TxnCoordinator::EndTxn(std::string transactional_id,
                                                     std::int64_t producer_id,
                                                     std::int16_t producer_epoch, bool commit,
                                                     bool bump_epoch) {
  if (!Available(transactional_id)) co_return EndTxnError(ErrorCode::kCoordinatorNotAvailable);
  if (busy_.count(transactional_id) != 0) {
    co_return EndTxnError(ErrorCode::kConcurrentTransactions);
  }
  if (bump_epoch) {
    co_return co_await EndTxnBumpingEpoch(transactional_id, producer_id, producer_epoch, commit);
  }
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) {
    co_return EndTxnError(ErrorCode::kInvalidProducerIdMapping);
  }
  if (producer_epoch != it->second.producer_epoch) co_return EndTxnError(ErrorCode::kProducerFenced);
  switch (it->second.state) {
    case TxnState::kOngoing:
      break;
    case TxnState::kCompleteCommit:
      // A retry of the EndTxn that completed it.
      co_return EndTxnError(commit ? ErrorCode::kNone : ErrorCode::kInvalidTxnState);
    case TxnState::kCompleteAbort:
      co_return EndTxnError(commit ? ErrorCode::kInvalidTxnState : ErrorCode::kNone);
    case TxnState::kPrepareCommit:
    case TxnState::kPrepareAbort:
    case TxnState::kPrepareEpochFence:
      co_return EndTxnError(ErrorCode::kConcurrentTransactions);
    default:
      co_return EndTxnError(ErrorCode::kInvalidTxnState);
  }
  BusyGuard busy(busy_, transactional_id);
  if (Status s = co_await EndTransaction(transactional_id, commit, producer_epoch,
                                         commit ? "commit" : "abort");
      !s.ok()) {
    spdlog::error("ending the transaction of {}: {}", transactional_id, s.ToString());
    co_return EndTxnError(ErrorCode::kCoordinatorNotAvailable);
  }
  co_return EndTxnError(ErrorCode::kNone);
}

asio::awaitable<Status> TxnCoordinator::EndTransaction(const std::string& transactional_id,
                                                       bool commit, std::int16_t epoch,
                                                       std::string_view outcome,
                                                       std::int64_t next_producer_id) {
  TxnLogValue prepared = txns_.at(transactional_id);
  prepared.state = commit ? TxnState::kPrepareCommit : TxnState::kPrepareAbort;
  prepared.producer_epoch = epoch;
  prepared.next_producer_id = next_producer_id;
  if (prepared.start_ms < 0) prepared.start_ms = NowMs();
  if (Status s = co_await WriteState(transactional_id, std::move(prepared)); !s.ok()) {
    co_return s;
  }
  Status done = co_await Complete(transactional_id);
  if (done.ok()) metrics_.TransactionEnded(outcome);
  co_return done;
}

asio::awaitable<Status> TxnCoordinator::Complete(const std::string& transactional_id) {
  const TxnLogValue prepared = txns_.at(transactional_id);
  const bool commit = prepared.state == TxnState::kPrepareCommit;
  for (;;) {
    Status s = co_await WriteMarkers(prepared, commit);
    if (s.ok()) break;
    if (stopped_) co_return s;
    spdlog::warn("markers of {} not written, retrying: {}", transactional_id, s.ToString());
    asio::steady_timer wait(executor_, std::chrono::milliseconds(kMarkerRetryMs));
    std::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  TxnLogValue complete = prepared;
  complete.state = commit ? TxnState::kCompleteCommit : TxnState::kCompleteAbort;
  complete.partitions.clear();
  if (prepared.next_producer_id < 0) {
    // Not waited for: if it is lost, start-up finds the transaction prepared and writes the
    // markers again.
    co_return co_await WriteState(transactional_id, std::move(complete), /*wait=*/false);
  }
  // The epoch ran out: the id goes on as the new producer id the prepared record holds (so a
  // start-up that finds it prepared moves it too), and remembers the old one, so that a retry
  // with it is answered alike. Durable before the client is told.
  complete.previous_producer_id = complete.producer_id;
  complete.producer_id = prepared.next_producer_id;
  complete.producer_epoch = 0;
  co_return co_await WriteState(transactional_id, std::move(complete), /*wait=*/true);
}

asio::awaitable<Status> TxnCoordinator::WriteMarkers(const TxnLogValue& txn, bool commit) {
  std::vector<std::shared_ptr<storage::PartitionLog>> written;
  std::vector<std::pair<std::string, std::int32_t>> keys;
  for (const auto& [topic, partitions] : txn.partitions) {
    for (std::int32_t p : partitions) {
      std::shared_ptr<storage::PartitionLog> log = topics_.Log(topic, p);
      if (log == nullptr) {
        // Deleted since, or offline: there is nothing a marker could close.
        spdlog::warn("no marker for {}-{} (producer {}): the partition is gone or offline",
                     topic, p, txn.producer_id);
        continue;
      }
      auto appended = log->AppendMarker(txn.producer_id, txn.producer_epoch, 0, commit);
      if (!appended.ok()) co_return appended.status();
      if (appended.value().error != ErrorCode::kNone) {
        // The partition knows a newer epoch of the producer: nothing of this one is open.
        spdlog::warn("marker for {}-{} refused: {}", topic, p, appended.value().error_message);
        continue;
      }
      written.push_back(log);
      keys.emplace_back(topic, p);
    }
  }
  if (config_.wait_for_fsync && !written.empty()) {
    const Status durable = co_await group_commit_.WaitDurable(written, asio::use_awaitable);
    if (!durable.ok()) co_return durable;
  }
  for (const auto& key : keys) {
    notifier_.Notify(key);
    if (key.first == kOffsetsTopic && offsets_hook_) {
      offsets_hook_(key.second, txn.producer_id, commit);
    }
  }
  co_return Status::Ok();
}

ErrorCode TxnCoordinator::CheckWrite(const std::string& transactional_id,
                                     std::int64_t producer_id, std::int16_t producer_epoch,
                                     const std::string& topic, std::int32_t partition) const {
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) {
    return ErrorCode::kInvalidProducerIdMapping;
  }
  if (producer_epoch < it->second.producer_epoch) return ErrorCode::kInvalidProducerEpoch;
  if (producer_epoch != it->second.producer_epoch || it->second.state != TxnState::kOngoing) {
    return ErrorCode::kInvalidTxnState;
  }
  const auto t = it->second.partitions.find(topic);
  if (t == it->second.partitions.end() || t->second.count(partition) == 0) {
    return ErrorCode::kInvalidTxnState;
  }
  return ErrorCode::kNone;
}

}  // namespace tern::broker::txn
