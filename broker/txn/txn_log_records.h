// The records of __transaction_state, the transaction coordinator's log, in Kafka's formats, so
// Kafka's own TransactionLogMessageFormatter reads them. Each transactional id's records go to
// one partition, abs(String.hashCode(id)) % partitions as in Kafka; the topic is compacted, so
// the latest record of an id is its state.
//
//   key   (version int16 = 0) transactionalId string
//   value (version int16 = 0) producerId int64 | producerEpoch int16 | transactionTimeoutMs int32
//         | transactionStatus int8 | transactionPartitions (nullable array of: topic string,
//         partitionIds int32 array) | lastUpdateTimestampMs int64 | startTimestampMs int64
//   a null value (tombstone) removes the id.
// Strings are int16-length UTF-8, arrays int32-counted. Value version 1 is Kafka 4's flexible
// form of the same fields (compact strings and arrays, tagged fields) with tagged fields of
// transaction version 2: 0 previousProducerId int64, 1 nextProducerId int64,
// 2 clientTransactionVersion int16, 3 nextProducerEpoch int16. Version 0 is written, as every
// Kafka release reads it, unless a tagged field is set (the producer id moving to a new one
// when its epoch ran out); both are read.
//
// Pure functions; any thread may call them.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::broker::txn {

inline constexpr const char* kTransactionStateTopic = "__transaction_state";

// Kafka's transaction states, with their numbers in the log.
enum class TxnState : std::int8_t {
  kEmpty = 0,
  kOngoing = 1,
  kPrepareCommit = 2,
  kPrepareAbort = 3,
  kCompleteCommit = 4,
  kCompleteAbort = 5,
  kDead = 6,
  kPrepareEpochFence = 7,
};

// Kafka's names for the states, as DescribeTransactions and ListTransactions report them.
std::string_view TxnStateName(TxnState state);
// The state of a name ListTransactions filters by; false when it names none.
bool TxnStateFromName(std::string_view name, TxnState* out);

using TxnPartitions = std::map<std::string, std::set<std::int32_t>>;  // topic -> partitions

struct TxnLogValue {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t timeout_ms = 0;
  TxnState state = TxnState::kEmpty;
  TxnPartitions partitions;
  std::int64_t last_update_ms = -1;
  std::int64_t start_ms = -1;
  // Version 1's tagged fields; these defaults are not written.
  std::int64_t previous_producer_id = -1;  // the id a completed transaction moved from
  std::int64_t next_producer_id = -1;      // the id a prepared transaction moves to
  std::int16_t client_transaction_version = 0;
  std::int16_t next_producer_epoch = -1;

  friend bool operator==(const TxnLogValue&, const TxnLogValue&) = default;
};

std::string EncodeTxnLogKey(std::string_view transactional_id);
// The transactional id; Unsupported for a key version other than 0, InvalidArgument when short.
Result<std::string> DecodeTxnLogKey(std::string_view key);

std::string EncodeTxnLogValue(const TxnLogValue& value);
// InvalidArgument when short or inconsistent; Unsupported for a version other than 0 or 1.
Result<TxnLogValue> DecodeTxnLogValue(std::string_view value);

// The partition of __transaction_state that holds `transactional_id`.
std::int32_t PartitionForTransactionalId(std::string_view transactional_id,
                                         std::int32_t partitions);

}  // namespace tern::broker::txn
