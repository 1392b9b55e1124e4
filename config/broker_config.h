// BrokerConfig: tern-broker's settings, read from a YAML file (--config) and overridden by
// command-line flags. Every field below states its meaning, unit and default; the file may set
// any subset. An unknown field, a value of the wrong type or out of range is refused with an
// error naming the field. config/tern-broker.example.yaml shows every field with its default.
// Plain value type; built once at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/host_port.h"
#include "common/result.h"

namespace tern {

enum class FsyncPolicy {
  kAlways,    // acks=1/all are answered only after the batch is on disk (group commit)
  kInterval,  // fsync every fsync_interval_ms; acknowledged data of the last interval may be lost
  kNever,     // leave it to the OS, as Kafka does by default; fastest, loses data on power loss
};

struct BrokerLogDefaults {
  // segment_bytes (Kafka: log.segment.bytes): roll the active segment at this size. Bytes.
  std::int64_t segment_bytes = 1024LL * 1024 * 1024;
  // segment_ms (log.roll.ms): roll the active segment once this old. Milliseconds.
  std::int64_t segment_ms = 7LL * 24 * 3600 * 1000;
  // retention_ms (log.retention.ms): delete segments whose newest record is older. -1 = keep.
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // retention_bytes (log.retention.bytes): keep at most this much per partition. -1 = no limit.
  std::int64_t retention_bytes = -1;
  // max_message_bytes (message.max.bytes): the largest record batch accepted. Bytes.
  std::int32_t max_message_bytes = 1048588;
  // index_interval_bytes (log.index.interval.bytes): spacing of offset-index entries. Bytes.
  std::int32_t index_interval_bytes = 4096;
  // cleanup_policy (log.cleanup.policy): "delete" or "compact".
  std::string cleanup_policy = "delete";
};

// Committed consumer offsets, kept in the __consumer_offsets topic.
struct BrokerOffsetsConfig {
  // topic_partitions (offsets.topic.num.partitions): partitions of __consumer_offsets when the
  // broker creates it at its first start; an existing topic keeps its count, as the partition
  // of every group depends on it. 1..1000. Default 50, Kafka's.
  std::int32_t topic_partitions = 50;
  // retention_minutes (offsets.retention.minutes): a committed offset of a group without
  // members is removed this long after its commit. Minutes, at least 1. Default 10080 (7 days).
  std::int64_t retention_minutes = 7LL * 24 * 60;
  // retention_check_interval_ms (offsets.retention.check.interval.ms): how often expired
  // offsets are looked for. Milliseconds, at least 1. Default 600000.
  std::int64_t retention_check_interval_ms = 600000;
  // metadata_max_bytes (offset.metadata.max.bytes): the longest metadata a commit may carry
  // (longer gets OFFSET_METADATA_TOO_LARGE). Characters, as Kafka counts. Default 4096.
  std::int32_t metadata_max_bytes = 4096;
};

// Consumer groups' membership (the classic protocol: JoinGroup, SyncGroup, Heartbeat).
struct BrokerGroupConfig {
  // initial_rebalance_delay_ms (group.initial.rebalance.delay.ms): the first rebalance of an
  // empty group waits this long for more members, again while they keep arriving (up to the
  // rebalance timeout). Milliseconds, 0 or more. Default 3000, Kafka's.
  std::int32_t initial_rebalance_delay_ms = 3000;
  // min_session_timeout_ms / max_session_timeout_ms (group.min.session.timeout.ms,
  // group.max.session.timeout.ms): the session timeouts a member may ask for (others get
  // INVALID_SESSION_TIMEOUT). Milliseconds. Defaults 6000 and 1800000, Kafka's.
  std::int32_t min_session_timeout_ms = 6000;
  std::int32_t max_session_timeout_ms = 1800000;
  // max_size (group.max.size): members a group may have (more get GROUP_MAX_SIZE_REACHED).
  // At least 1. Default 2147483647 (no limit), Kafka's.
  std::int32_t max_size = 2147483647;

  // The consumer rebalance protocol (KIP-848, ConsumerGroupHeartbeat):
  // consumer_session_timeout_ms (group.consumer.session.timeout.ms): a member that sends no
  // heartbeat for this long is removed. Milliseconds, at least 1. Default 45000, Kafka's.
  std::int32_t consumer_session_timeout_ms = 45000;
  // consumer_heartbeat_interval_ms (group.consumer.heartbeat.interval.ms): how often members
  // heartbeat, as told in every answer; at least 1, below the session timeout. Default 5000.
  std::int32_t consumer_heartbeat_interval_ms = 5000;
  // consumer_max_size (group.consumer.max.size): members a consumer group may have (more get
  // GROUP_MAX_SIZE_REACHED). At least 1. Default 2147483647 (no limit), Kafka's.
  std::int32_t consumer_max_size = 2147483647;
  // consumer_migration_policy (group.consumer.migration.policy): whether a group with members
  // moves between the protocols online. "bidirectional" (Kafka's default) or "upgrade": a
  // consumer-protocol member joining a classic group turns it into a consumer group, whose
  // classic members stay in it; "bidirectional" or "downgrade": a consumer group whose last
  // consumer-protocol member leaves turns back into a classic group; "disabled": neither.
  std::string consumer_migration_policy = "bidirectional";
};

// Transactions, coordinated by this node and kept in the __transaction_state topic.
struct BrokerTransactionsConfig {
  // topic_partitions (transaction.state.log.num.partitions): partitions of __transaction_state
  // when the broker creates it at its first start; an existing topic keeps its count, as the
  // partition of every transactional id depends on it. 1..1000. Default 50, Kafka's.
  std::int32_t topic_partitions = 50;
  // max_timeout_ms (transaction.max.timeout.ms): the longest transaction timeout a producer may
  // ask for (longer gets INVALID_TRANSACTION_TIMEOUT). Milliseconds, at least 1. Default
  // 900000 (15 minutes), Kafka's.
  std::int32_t max_timeout_ms = 900000;
  // abort_check_interval_ms (transaction.abort.timed.out.transaction.cleanup.interval.ms): how
  // often transactions open past their timeout are looked for and aborted. Milliseconds, at
  // least 1. Default 10000, Kafka's.
  std::int64_t abort_check_interval_ms = 10000;
  // version (the transaction.version feature, KIP-890): 2 (default) lets clients that speak it
  // (Kafka 4's Java producer) run transaction version 2 — partitions join a transaction with
  // the write itself (no AddPartitionsToTxn or AddOffsetsToTxn) and every commit or abort
  // bumps the producer epoch; 0 or 1 tells them to keep to version 1. Older clients and
  // librdkafka use version 1 either way. 0..2.
  std::int16_t version = 2;
  // id_expiration_ms (transactional.id.expiration.ms): a transactional id with no transaction
  // open and no request for this long is forgotten (its state removed from
  // __transaction_state, checked with the timeout checks); its next InitProducerId starts it
  // anew with a new producer id. Milliseconds, at least 1. Default 604800000 (7 days), Kafka's.
  std::int64_t id_expiration_ms = 7LL * 24 * 3600 * 1000;
};

struct BrokerConfig {
  // node_id (node.id): this broker's id in Metadata responses. 0..2^31-1. Default 1.
  std::int32_t node_id = 1;
  // data_dir: where logs and state live. Required here or as --data-dir.
  std::string data_dir;
  // listener: HOST:PORT to accept clients on. Required here or as --listen.
  std::optional<HostPort> listener;
  // advertised_listener: HOST:PORT that clients are told to use. Default: listener.
  std::optional<HostPort> advertised_listener;
  // auto_create_topics (auto.create.topics.enable): create a topic on first Metadata or
  // Produce that names it. Default true.
  bool auto_create_topics = true;
  // default_partitions (num.partitions): partitions of auto-created topics. Default 1.
  std::int32_t default_partitions = 1;
  // max_request_bytes (socket.request.max.bytes): larger requests close the connection. Bytes.
  std::int32_t max_request_bytes = 100 * 1024 * 1024;
  // max_in_flight_per_connection: requests of one connection processed at once. Default 32.
  std::int32_t max_in_flight_per_connection = 32;
  // fsync: "always" (default), "interval" or "never" — see FsyncPolicy.
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  // fsync_interval_ms: with fsync "interval", the time between fsyncs. Milliseconds. 1000.
  std::int64_t fsync_interval_ms = 1000;
  // group_commit_interval_us: with fsync "always", under heavy writing (the last fsync round
  // wrote out at least group_commit_busy_bytes) the next round starts no sooner than this
  // after the last one began, so one fsync covers more requests. Lighter load is synced at
  // once. Microseconds, 0 to 1000000; 0 turns the spacing off. Default 2000.
  std::int64_t group_commit_interval_us = 2000;
  // group_commit_busy_bytes: the bytes a round must write out to count as heavy writing.
  // Bytes, at least 1. Default 65536.
  std::int64_t group_commit_busy_bytes = 64 * 1024;
  // retention_check_interval_ms (log.retention.check.interval.ms): how often retention runs.
  std::int64_t retention_check_interval_ms = 5LL * 60 * 1000;
  // producer_id_expiration_ms (producer.id.expiration.ms): a partition forgets an idempotent
  // producer that has not written to it for this long (checked with each retention pass); its
  // next batch is then accepted at any sequence, without duplicate detection against the old
  // ones. Milliseconds, at least 1. Default 86400000 (one day).
  std::int64_t producer_id_expiration_ms = 24LL * 3600 * 1000;
  // log: defaults for topic configs a topic does not set itself.
  BrokerLogDefaults log;
  // offsets: committed consumer offsets (see BrokerOffsetsConfig).
  BrokerOffsetsConfig offsets;
  // group: consumer groups' membership (see BrokerGroupConfig).
  BrokerGroupConfig group;
  // transactions: the transaction coordinator (see BrokerTransactionsConfig).
  BrokerTransactionsConfig transactions;
  // metrics_listen: HOST:PORT serving Prometheus /metrics; unset disables. Default unset.
  std::optional<HostPort> metrics_listen;
};

// Parses YAML text. `source` names the text in errors (a file name).
Result<BrokerConfig> ParseBrokerConfig(std::string_view yaml, std::string_view source);

// Reads and parses a YAML file; a missing or unreadable file is an error naming it.
Result<BrokerConfig> LoadBrokerConfig(const std::string& path);

}  // namespace tern
