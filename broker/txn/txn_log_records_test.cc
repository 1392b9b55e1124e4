#include "broker/txn/txn_log_records.h"

#include <gtest/gtest.h>

#include "kafka/wire.h"

namespace tern::broker::txn {
namespace {

TEST(TxnLogRecordsTest, KeyIsVersionZeroAndTheId) {
  const std::string key = EncodeTxnLogKey("orders-tx");
  EXPECT_EQ(key, std::string("\0\0\0\x09orders-tx", 13));
  auto decoded = DecodeTxnLogKey(key);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), "orders-tx");
  EXPECT_EQ(DecodeTxnLogKey(std::string("\0\1\0\0", 4)).status().code(),
            Status::Code::kUnsupported);
}

TEST(TxnLogRecordsTest, ValueRoundTripsWithPartitions) {
  TxnLogValue v;
  v.producer_id = 4001;
  v.producer_epoch = 7;
  v.timeout_ms = 60000;
  v.state = TxnState::kOngoing;
  v.partitions = {{"orders", {0, 2}}, {"__consumer_offsets", {17}}};
  v.last_update_ms = 1'700'000'000'123;
  v.start_ms = 1'700'000'000'000;
  auto decoded = DecodeTxnLogValue(EncodeTxnLogValue(v));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value(), v);
}

TEST(TxnLogRecordsTest, ValueLayoutIsKafkasVersionZero) {
  TxnLogValue v;
  v.producer_id = 1;
  v.producer_epoch = 2;
  v.timeout_ms = 3;
  v.state = TxnState::kCompleteCommit;
  v.last_update_ms = 4;
  v.start_ms = 5;
  kafka::Writer w;
  w.WriteInt16(0);
  w.WriteInt64(1);
  w.WriteInt16(2);
  w.WriteInt32(3);
  w.WriteInt8(4);
  w.WriteInt32(0);
  w.WriteInt64(4);
  w.WriteInt64(5);
  EXPECT_EQ(EncodeTxnLogValue(v), w.buffer());
}

// Bytes as Kafka 4.4's TransactionLogValue writes them, from hex.
std::string FromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

TEST(TxnLogRecordsTest, TheProducerIdsOfAMoveAreKafkasVersionOneTaggedFields) {
  // A completed transaction that moved from producer id 4 (tag 0), and a prepared one that
  // moves to 9 (tag 1): Kafka's own encodings of the same values.
  TxnLogValue complete;
  complete.producer_id = 5;
  complete.producer_epoch = 0;
  complete.timeout_ms = 60000;
  complete.state = TxnState::kCompleteCommit;
  complete.partitions = {{"t", {1, 2}}};
  complete.last_update_ms = 1;
  complete.start_ms = 2;
  complete.previous_producer_id = 4;
  const std::string kafka_complete = FromHex(
      "0001000000000000000500000000ea600402027403000000010000000200000000000000000100000000"
      "000000020100080000000000000004");
  EXPECT_EQ(EncodeTxnLogValue(complete), kafka_complete);
  EXPECT_EQ(DecodeTxnLogValue(kafka_complete).value(), complete);
  TxnLogValue prepared = complete;
  prepared.state = TxnState::kPrepareCommit;
  prepared.partitions.clear();
  prepared.previous_producer_id = -1;
  prepared.next_producer_id = 9;
  const std::string kafka_prepared = FromHex(
      "0001000000000000000500000000ea60020100000000000000010000000000000002010108000000000000"
      "0009");
  EXPECT_EQ(EncodeTxnLogValue(prepared), kafka_prepared);
  EXPECT_EQ(DecodeTxnLogValue(kafka_prepared).value(), prepared);
  // Without them, version 0 as before.
  prepared.next_producer_id = -1;
  EXPECT_EQ(EncodeTxnLogValue(prepared).substr(0, 2), std::string("\0\0", 2));
}

TEST(TxnLogRecordsTest, TruncatedOrUnknownValuesAreRefused) {
  const std::string bytes = EncodeTxnLogValue(TxnLogValue{});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeTxnLogValue(bytes.substr(0, n)).ok()) << n;
  }
  std::string bad_state = bytes;
  bad_state[2 + 8 + 2 + 4] = 9;
  EXPECT_FALSE(DecodeTxnLogValue(bad_state).ok());
  std::string future = bytes;
  future[1] = 5;
  EXPECT_EQ(DecodeTxnLogValue(future).status().code(), Status::Code::kUnsupported);
}

TEST(TxnLogRecordsTest, StateNamesAreKafkas) {
  EXPECT_EQ(TxnStateName(TxnState::kPrepareCommit), "PrepareCommit");
  TxnState s;
  ASSERT_TRUE(TxnStateFromName("CompleteAbort", &s));
  EXPECT_EQ(s, TxnState::kCompleteAbort);
  EXPECT_FALSE(TxnStateFromName("Committed", &s));
}

}  // namespace
}  // namespace tern::broker::txn
