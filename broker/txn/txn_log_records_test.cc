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
