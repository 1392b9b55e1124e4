// TxnCoordinator: this node's transaction coordinator for every transactional id (a single-node
// cluster coordinates all of them), as Kafka's: InitProducerId with a transactional id gives a
// producer id and epoch and fences older instances, AddPartitionsToTxn and AddOffsetsToTxn
// put partitions in the open transaction, EndTxn commits or aborts it, and transactions left
// open past their timeout are aborted; ids left idle past transactional.id.expiration.ms are
// forgotten.
//
// Each transactional id's state (producer id and epoch, timeout, state, partitions, times) is a
// record of the compacted __transaction_state topic (txn_log_records.h), written durably before
// a change is answered, and rebuilt from it at start-up. Ending a transaction is two-phase:
// PrepareCommit / PrepareAbort is made durable first — from then on the outcome is decided —
// then a marker goes to every partition of the transaction (PartitionLog::AppendMarker), and
// once the markers are durable the state becomes CompleteCommit / CompleteAbort and EndTxn is
// answered. A transaction found prepared at start-up is completed again; a marker written
// twice is harmless. Markers written into __consumer_offsets are reported through the offsets
// hook, so the group coordinator applies or drops the transactional offset commits.
//
// One operation per transactional id at a time: a request that arrives while another for the
// same id is in flight gets CONCURRENT_TRANSACTIONS, which clients retry.
//
// Network thread only: calls, timers and completions run on the broker's executor.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/cluster/topics.h"
#include "broker/data_notifier.h"
#include "broker/group_commit.h"
#include "broker/metrics.h"
#include "broker/txn/producer_ids.h"
#include "broker/txn/txn_log_records.h"
#include "common/result.h"
#include "kafka/error_code.h"

namespace tern::broker::txn {

struct TxnCoordinatorConfig {
  std::int32_t partitions = 50;  // transaction.state.log.num.partitions, when the topic is made
  std::int32_t max_timeout_ms = 900000;  // transaction.max.timeout.ms
  // transaction.abort.timed.out.transaction.cleanup.interval.ms
  std::int64_t abort_check_interval_ms = 10000;
  std::int64_t id_expiration_ms = 7LL * 24 * 3600 * 1000;  // transactional.id.expiration.ms
  bool wait_for_fsync = true;  // fsync "always": state changes wait for durability
};

struct InitProducerIdResult {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
};

struct EndTxnResult {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  // Transaction version 2 (EndTxn v5+): the producer id and epoch to use from now on.
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
};

// A partition joining a transaction with the write itself (transaction version 2).
struct ImplicitAdd {
  kafka::ErrorCode error = kafka::ErrorCode::kNone;
  // When the partition was added: the __transaction_state log holding the new state, to be
  // made durable before the write is acknowledged.
  std::shared_ptr<storage::PartitionLog> state_log;
};

// A transactional id's state, as DescribeTransactions reports it.
struct TxnDescription {
  std::string transactional_id;
  TxnLogValue state;
};

class TxnCoordinator {
 public:
  // Creates __transaction_state when missing (compacted, internal) and loads it.
  static Result<std::unique_ptr<TxnCoordinator>> Open(const TxnCoordinatorConfig& config,
                                                      Topics& topics, GroupCommit& group_commit,
                                                      ProducerIdAllocator& producer_ids,
                                                      DataNotifier& notifier,
                                                      BrokerMetrics& metrics,
                                                      asio::any_io_executor executor);
  TxnCoordinator(const TxnCoordinator&) = delete;
  TxnCoordinator& operator=(const TxnCoordinator&) = delete;

  // Called once a marker of `producer_id` is durable in partition `partition` of
  // __consumer_offsets.
  using OffsetsHook = std::function<void(std::int32_t partition, std::int64_t producer_id,
                                         bool committed)>;
  void set_offsets_hook(OffsetsHook hook) { offsets_hook_ = std::move(hook); }

  // Completes the transactions found prepared at start-up and starts the timeout checks. The
  // coordinator must then outlive the executor's running.
  void Start();
  void Stop();

  // InitProducerId with a transactional id. `expected` (KIP-360, v3+): the id and epoch the
  // producer holds; a mismatch is PRODUCER_FENCED. An open transaction is aborted first (with
  // a bumped epoch, fencing its producer).
  asio::awaitable<InitProducerIdResult> InitProducerId(
      std::string transactional_id, std::int32_t timeout_ms,
      std::optional<std::pair<std::int64_t, std::int16_t>> expected);

  // Adds partitions to the producer's transaction, opening it when none is open. Per
  // partition: NONE, UNKNOWN_TOPIC_OR_PARTITION, or the transaction's error for all of them
  // (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, ...).
  // `verify_only`: only checks that they are in the open transaction (INVALID_TXN_STATE).
  asio::awaitable<std::map<std::string, std::map<std::int32_t, kafka::ErrorCode>>> AddPartitions(
      std::string transactional_id, std::int64_t producer_id, std::int16_t producer_epoch,
      TxnPartitions partitions, bool verify_only = false);

  // Commits or aborts the producer's transaction; answers once its markers are durable.
  // `bump_epoch` (transaction version 2, EndTxn v5+): the markers and the new state carry the
  // next epoch (a new producer id at epoch 0 once the epoch runs out), which the result
  // returns; an abort with no transaction open bumps the epoch too, and a retry of the EndTxn
  // that bumped it is answered as the first one was.
  asio::awaitable<EndTxnResult> EndTxn(std::string transactional_id, std::int64_t producer_id,
                                       std::int16_t producer_epoch, bool commit,
                                       bool bump_epoch = false);

  // Transaction version 2 (Produce v12+, TxnOffsetCommit v5+): adds the partition to the
  // producer's transaction, opening one when none is open, at once; the new state is
  // appended to __transaction_state, and the caller makes that durable with its own write.
  // NONE with no log when the partition was in the open transaction already;
  // CONCURRENT_TRANSACTIONS while the id has another operation in flight or a transaction
  // being completed; INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (another epoch) or
  // COORDINATOR_NOT_AVAILABLE otherwise.
  ImplicitAdd AddPartitionForWrite(const std::string& transactional_id, std::int64_t producer_id,
                                   std::int16_t producer_epoch, const std::string& topic,
                                   std::int32_t partition);

  // Whether the producer may write to the partition now (Produce of a transactional batch,
  // TxnOffsetCommit into __consumer_offsets): NONE when the partition is in its open
  // transaction; INVALID_PRODUCER_EPOCH for an old epoch, INVALID_PRODUCER_ID_MAPPING for an
  // unknown id, INVALID_TXN_STATE otherwise.
  kafka::ErrorCode CheckWrite(const std::string& transactional_id, std::int64_t producer_id,
                              std::int16_t producer_epoch, const std::string& topic,
                              std::int32_t partition) const;

  // Aborts, with a bumped epoch, every open transaction past its timeout at `now_ms`; returns
  // how many.
  asio::awaitable<std::size_t> AbortTimedOut(std::int64_t now_ms);
  // Forgets the ids with no open transaction whose state has not changed for
  // id_expiration_ms (a tombstone in __transaction_state); returns how many.
  asio::awaitable<std::size_t> ExpireIds(std::int64_t now_ms);

  const std::map<std::string, TxnLogValue>& transactions() const { return txns_; }
  bool Available(const std::string& transactional_id) const;

 private:
  TxnCoordinator(const TxnCoordinatorConfig& config, Topics& topics, GroupCommit& group_commit,
                 ProducerIdAllocator& producer_ids, DataNotifier& notifier,
                 BrokerMetrics& metrics, asio::any_io_executor executor,
                 std::vector<std::shared_ptr<storage::PartitionLog>> logs);
  // Reports how many transactions are open (after every state change).
  void ReportOpen();

  Status Load(std::int32_t partition);
  // Appends the id's new state and, under fsync "always", waits until it is durable; then it
  // is the id's state. `wait` false: appended and applied at once (the Complete records, whose
  // loss a restart repairs by completing the transaction again).
  asio::awaitable<Status> WriteState(const std::string& transactional_id, TxnLogValue value,
                                     bool wait = true);
  // Appends the id's record (nullopt: its tombstone) to its partition of __transaction_state;
  // under fsync "always" waits for durability, or with `wait` false only starts it.
  asio::awaitable<Status> AppendRecord(const std::string& transactional_id,
                                       std::optional<std::string> value, bool wait);
  // Appends the id's record without waiting; returns the log it went to.
  Result<std::shared_ptr<storage::PartitionLog>> AppendRecordNow(
      const std::string& transactional_id, std::optional<std::string> value);
  // Appends the id's tombstone, waits until it is durable, then forgets the id.
  asio::awaitable<Status> WriteTombstone(const std::string& transactional_id);
  // From Ongoing: writes Prepare{Commit,Abort} at `epoch`, the markers, then Complete*.
  // `outcome` is what the metrics count it as ("commit", "abort", "timeout"). With
  // `next_producer_id` the Complete state moves the id to that producer id at epoch 0.
  asio::awaitable<Status> EndTransaction(const std::string& transactional_id, bool commit,
                                         std::int16_t epoch, std::string_view outcome,
                                         std::int64_t next_producer_id = -1);
  // EndTxn of transaction version 2, for an id that is not busy.
  asio::awaitable<EndTxnResult> EndTxnBumpingEpoch(const std::string& transactional_id,
                                                   std::int64_t producer_id,
                                                   std::int16_t producer_epoch, bool commit);
  // From Prepare*: the markers and the Complete record. Retries failed marker writes.
  asio::awaitable<Status> Complete(const std::string& transactional_id);
  asio::awaitable<Status> WriteMarkers(const TxnLogValue& txn, bool commit);
  asio::awaitable<void> TimeoutLoop();

  const TxnCoordinatorConfig config_;
  Topics& topics_;
  GroupCommit& group_commit_;
  ProducerIdAllocator& producer_ids_;
  DataNotifier& notifier_;
  BrokerMetrics& metrics_;
  asio::any_io_executor executor_;
  const std::vector<std::shared_ptr<storage::PartitionLog>> logs_;  // of __transaction_state
  std::set<std::int32_t> unavailable_;
  std::map<std::string, TxnLogValue> txns_;
  std::set<std::string> busy_;  // ids with an operation in flight
  OffsetsHook offsets_hook_;
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace tern::broker::txn
