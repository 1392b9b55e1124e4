#include "config/broker_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace tern {
namespace {

using ::testing::HasSubstr;

TEST(BrokerConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseBrokerConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().node_id, 1);
  EXPECT_EQ(c.value().fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(c.value().log.segment_bytes, 1024LL * 1024 * 1024);
}

TEST(BrokerConfigTest, ExampleFileParsesToTheDefaults) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/config/tern-broker.example.yaml");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto c = ParseBrokerConfig(text.str(), "example");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const BrokerConfig defaults;
  EXPECT_EQ(c.value().node_id, defaults.node_id);
  EXPECT_EQ(c.value().max_request_bytes, defaults.max_request_bytes);
  EXPECT_EQ(c.value().retention_check_interval_ms, defaults.retention_check_interval_ms);
  EXPECT_EQ(c.value().producer_id_expiration_ms, defaults.producer_id_expiration_ms);
  EXPECT_EQ(c.value().log.retention_ms, defaults.log.retention_ms);
  EXPECT_EQ(c.value().log.max_message_bytes, defaults.log.max_message_bytes);
  EXPECT_EQ(c.value().offsets.topic_partitions, defaults.offsets.topic_partitions);
  EXPECT_EQ(c.value().offsets.retention_minutes, defaults.offsets.retention_minutes);
  EXPECT_EQ(c.value().offsets.retention_check_interval_ms,
            defaults.offsets.retention_check_interval_ms);
  EXPECT_EQ(c.value().offsets.metadata_max_bytes, defaults.offsets.metadata_max_bytes);
  EXPECT_EQ(c.value().group.initial_rebalance_delay_ms,
            defaults.group.initial_rebalance_delay_ms);
  EXPECT_EQ(c.value().group.min_session_timeout_ms, defaults.group.min_session_timeout_ms);
  EXPECT_EQ(c.value().group.max_session_timeout_ms, defaults.group.max_session_timeout_ms);
  EXPECT_EQ(c.value().group.max_size, defaults.group.max_size);
  EXPECT_FALSE(c.value().listener.has_value());
  EXPECT_FALSE(c.value().metrics_listen.has_value());
}

TEST(BrokerConfigTest, EveryFieldCanBeSetFromTheFile) {
  auto c = ParseBrokerConfig(R"(
node_id: 7
data_dir: /var/lib/tern
listener: 0.0.0.0:9192
advertised_listener: broker-7.example:9192
auto_create_topics: false
default_partitions: 6
max_request_bytes: 2048
max_in_flight_per_connection: 4
fsync: interval
fsync_interval_ms: 50
group_commit_interval_us: 500
group_commit_busy_bytes: 4096
retention_check_interval_ms: 1000
producer_id_expiration_ms: 3600000
metrics_listen: 127.0.0.1:9644
log:
  segment_bytes: 1048576
  segment_ms: 60000
  retention_ms: -1
  retention_bytes: 10485760
  max_message_bytes: 2097152
  index_interval_bytes: 1024
  cleanup_policy: compact
offsets:
  topic_partitions: 3
  retention_minutes: 60
  retention_check_interval_ms: 5000
  metadata_max_bytes: 100
group:
  initial_rebalance_delay_ms: 0
  min_session_timeout_ms: 1000
  max_session_timeout_ms: 60000
  max_size: 10
  consumer_migration_policy: upgrade
transactions:
  topic_partitions: 4
  max_timeout_ms: 60000
  abort_check_interval_ms: 250
  id_expiration_ms: 5000
  version: 1
)",
                             "all.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& v = c.value();
  EXPECT_EQ(v.node_id, 7);
  EXPECT_EQ(v.data_dir, "/var/lib/tern");
  EXPECT_EQ(v.listener, (HostPort{"0.0.0.0", 9192}));
  EXPECT_EQ(v.advertised_listener, (HostPort{"broker-7.example", 9192}));
  EXPECT_FALSE(v.auto_create_topics);
  EXPECT_EQ(v.default_partitions, 6);
  EXPECT_EQ(v.max_request_bytes, 2048);
  EXPECT_EQ(v.max_in_flight_per_connection, 4);
  EXPECT_EQ(v.fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(v.fsync_interval_ms, 50);
  EXPECT_EQ(v.group_commit_interval_us, 500);
  EXPECT_EQ(v.group_commit_busy_bytes, 4096);
  EXPECT_EQ(v.retention_check_interval_ms, 1000);
  EXPECT_EQ(v.producer_id_expiration_ms, 3600000);
  EXPECT_EQ(v.metrics_listen, (HostPort{"127.0.0.1", 9644}));
  EXPECT_EQ(v.log.segment_bytes, 1048576);
  EXPECT_EQ(v.log.segment_ms, 60000);
  EXPECT_EQ(v.log.retention_ms, -1);
  EXPECT_EQ(v.log.retention_bytes, 10485760);
  EXPECT_EQ(v.log.max_message_bytes, 2097152);
  EXPECT_EQ(v.log.index_interval_bytes, 1024);
  EXPECT_EQ(v.log.cleanup_policy, "compact");
  EXPECT_EQ(v.offsets.topic_partitions, 3);
  EXPECT_EQ(v.offsets.retention_minutes, 60);
  EXPECT_EQ(v.offsets.retention_check_interval_ms, 5000);
  EXPECT_EQ(v.offsets.metadata_max_bytes, 100);
  EXPECT_EQ(v.group.initial_rebalance_delay_ms, 0);
  EXPECT_EQ(v.group.min_session_timeout_ms, 1000);
  EXPECT_EQ(v.group.max_session_timeout_ms, 60000);
  EXPECT_EQ(v.group.max_size, 10);
  EXPECT_EQ(v.group.consumer_migration_policy, "upgrade");
  EXPECT_EQ(v.transactions.topic_partitions, 4);
  EXPECT_EQ(v.transactions.max_timeout_ms, 60000);
  EXPECT_EQ(v.transactions.abort_check_interval_ms, 250);
  EXPECT_EQ(v.transactions.id_expiration_ms, 5000);
  EXPECT_EQ(v.transactions.version, 1);
}

TEST(BrokerConfigTest, GroupDefaultsAreKafkas) {
  auto c = ParseBrokerConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().group.initial_rebalance_delay_ms, 3000);
  EXPECT_EQ(c.value().group.min_session_timeout_ms, 6000);
  EXPECT_EQ(c.value().group.max_session_timeout_ms, 1800000);
  EXPECT_EQ(c.value().group.max_size, 2147483647);
  EXPECT_EQ(c.value().group.consumer_migration_policy, "bidirectional");
  auto policy = ParseBrokerConfig("group:\n  consumer_migration_policy: sideways\n", "p.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(), HasSubstr("'group.consumer_migration_policy'"));
  EXPECT_THAT(policy.status().message(), HasSubstr("bidirectional, upgrade, downgrade, disabled"));
  auto crossed = ParseBrokerConfig(
      "group:\n  min_session_timeout_ms: 9000\n  max_session_timeout_ms: 8000\n", "g.yaml");
  ASSERT_FALSE(crossed.ok());
  EXPECT_THAT(crossed.status().message(), HasSubstr("'group.min_session_timeout_ms'"));
}

TEST(BrokerConfigTest, OffsetsDefaultsAreKafkas) {
  auto c = ParseBrokerConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().offsets.topic_partitions, 50);
  EXPECT_EQ(c.value().offsets.retention_minutes, 10080);
  EXPECT_EQ(c.value().offsets.retention_check_interval_ms, 600000);
  EXPECT_EQ(c.value().offsets.metadata_max_bytes, 4096);
  auto zero = ParseBrokerConfig("offsets:\n  topic_partitions: 0\n", "z.yaml");
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("field 'offsets.topic_partitions'"));
}

TEST(BrokerConfigTest, ProducerIdExpirationDefaultsToOneDayAndMustBePositive) {
  auto c = ParseBrokerConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().producer_id_expiration_ms, 86'400'000);
  auto zero = ParseBrokerConfig("producer_id_expiration_ms: 0\n", "z.yaml");
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("field 'producer_id_expiration_ms'"));
}

TEST(BrokerConfigTest, TransactionVersionDefaultsToTwoAndStaysInItsRange) {
  auto c = ParseBrokerConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().transactions.version, 2);
  auto three = ParseBrokerConfig("transactions:\n  version: 3\n", "t.yaml");
  ASSERT_FALSE(three.ok());
  EXPECT_THAT(three.status().message(), HasSubstr("field 'transactions.version'"));
}

TEST(BrokerConfigTest, UnknownFieldIsNamed) {
  auto c = ParseBrokerConfig("log:\n  segment_byte: 10\n", "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("b.yaml: unknown field 'log.segment_byte'"));
}

TEST(BrokerConfigTest, WrongTypeIsNamed) {
  auto c = ParseBrokerConfig("default_partitions: many\n", "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("field 'default_partitions'"));
  EXPECT_THAT(c.status().message(), HasSubstr("'many'"));
}

TEST(BrokerConfigTest, OutOfRangeIsNamed) {
  auto c = ParseBrokerConfig("default_partitions: 0\n", "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("0 is outside 1..100000"));
}

TEST(BrokerConfigTest, BadEnumListsChoices) {
  auto c = ParseBrokerConfig("fsync: sometimes\n", "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("always, interval, never"));
}

TEST(BrokerConfigTest, MalformedYamlGivesPosition) {
  auto c = ParseBrokerConfig("node_id: [1\n", "b.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("b.yaml"));
  EXPECT_THAT(c.status().message(), HasSubstr("line"));
}

TEST(BrokerConfigTest, MissingFileIsNamed) {
  auto c = LoadBrokerConfig("/nonexistent/broker.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/broker.yaml"));
}

}  // namespace
}  // namespace tern
