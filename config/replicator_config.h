// ReplicatorConfig: tern-replicator's settings, read from a YAML file (--config). Every field
// below states its meaning, unit and default; config/tern-replicator.example.yaml shows them
// all. An unknown field, a value of the wrong type or out of range, or a bad regex is refused
// with an error naming the field (e.g. "field 'topics.include[1]': ..."). Plain value type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_port.h"
#include "common/result.h"

namespace tern {

// One side of the replication. In YAML: { alias: us-east, bootstrap.servers: "h:9092", ... }.
struct ClusterConfig {
  // alias: the cluster's name in topic names (prefix naming), MirrorMaker 2 topic names and
  // metrics. Required; 1..64 characters of [A-Za-z0-9_-] (no '.', which separates prefixes).
  std::string alias;
  // Every other key is a Kafka client setting passed to librdkafka unchanged
  // (bootstrap.servers, security.protocol, sasl.mechanism, ssl.ca.location, ...).
  // bootstrap.servers is required. Values are scalars, kept as written.
  std::map<std::string, std::string> client;
};

// Regular expressions (ECMAScript, matched against the whole name).
struct NameFilter {
  std::vector<std::string> include = {".*"};
  std::vector<std::string> exclude;
};

enum class NamingPolicy {
  kIdentity,  // the target topic has the source topic's name
  kPrefix,    // "<source alias>.<topic>", MirrorMaker 2's default policy
};

enum class DeliveryMode {
  kExactlyOnce,  // transactional producer; progress committed in the same transaction
  kAtLeastOnce,  // idempotent producer; progress committed after delivery
};

enum class OffsetSyncsLocation { kSource, kTarget };

struct ReplicatorConfig {
  ClusterConfig source;
  ClusterConfig target;
  // topics: which source topics to replicate. Internal topics (names starting with "__",
  // MirrorMaker 2's "*.internal" and "heartbeats" topics, and on prefix naming topics that
  // already carry the target's alias) are never replicated, whatever the patterns say.
  NameFilter topics;
  // groups: which source consumer groups get translated offsets on the target.
  NameFilter groups;
  // naming: "identity" (default) or "prefix".
  NamingPolicy naming = NamingPolicy::kIdentity;
  // delivery: "exactly-once" (default) or "at-least-once".
  DeliveryMode delivery = DeliveryMode::kExactlyOnce;
  // state_dir: where the RocksDB checkpoint store lives. Required.
  std::string state_dir;
  // grpc.listen: HOST:PORT of the gRPC API. Unset disables it.
  std::optional<HostPort> grpc_listen;
  // grpc.tls.cert_file, grpc.tls.key_file: PEM files of the API's server certificate (chain)
  // and private key; both or neither. Set, the API serves TLS only; unset, plaintext. Read
  // once at start-up (ReadGrpcSecrets). Default unset (an empty string is unset too).
  std::string grpc_tls_cert_file;
  std::string grpc_tls_key_file;
  // grpc.token_file: a file holding the bearer token every ReplicatorService call must carry
  // ("authorization: Bearer <token>"); surrounding whitespace is ignored. Health checks and
  // server reflection stay open. Read once at start-up. Default unset: no token is asked for.
  std::string grpc_token_file;
  // metrics.listen: HOST:PORT serving Prometheus /metrics. Unset disables it.
  std::optional<HostPort> metrics_listen;
  // metrics.partition_lag: also expose lag per partition (tern_replicator_partition_lag_*),
  // for the partitions with the most lag. Default false (per topic only).
  bool metrics_partition_lag = false;
  // metrics.partition_lag_limit: at most this many partitions get per-partition series.
  // 1..100000. Default 100.
  std::int32_t metrics_partition_lag_limit = 100;
  // discovery.interval_ms: how often source topics, partitions and configs are re-read.
  // Milliseconds, 100..3600000. Default 5000.
  std::int64_t discovery_interval_ms = 5000;
  // groups_sync.interval_ms: how often group offsets are translated, checkpointed and
  // committed on the target. Milliseconds, 100..3600000. Default 5000.
  std::int64_t group_sync_interval_ms = 5000;
  // heartbeats.interval_ms: how often a heartbeat record is written to the target's
  // "heartbeats" topic. Milliseconds, 100..3600000. Default 1000.
  std::int64_t heartbeat_interval_ms = 1000;
  // commit_interval_ms: how often progress is committed. In exactly-once mode the longest a
  // transaction stays open while copying is behind; once it has caught up with the source it
  // commits at once. Milliseconds, 10..60000. Default 1000.
  std::int64_t commit_interval_ms = 1000;
  // transaction_start_delay_ms: exactly-once, after a transaction committed because copying
  // caught up, the next one begins this long after the commit, so that the target's
  // transaction coordinator has written the last one's markers first (begun earlier,
  // librdkafka 2.0 retries its first write after 20 ms, on CONCURRENT_TRANSACTIONS). Records
  // arriving meanwhile wait. Milliseconds, 0..1000; 0 begins at once. Default 4.
  std::int64_t transaction_start_delay_ms = 4;
  // max_buffered_bytes: records fetched but not yet acknowledged by the target (a quarter
  // prefetched by the consumer, half taken by the copy loop, a quarter in the producer's
  // queue); fetching pauses above it (back-pressure). Bytes, 1 MiB..16 GiB. Default 64 MiB.
  std::int64_t max_buffered_bytes = 64LL * 1024 * 1024;
  // provenance_header: add a "tern.origin" header naming the source alias to every copied
  // record, and skip records whose origin is the target (loop prevention). Default true.
  bool provenance_header = true;
  // offset_syncs.location: "target" (default) or "source": where the MirrorMaker 2
  // offset-syncs topic "mm2-offset-syncs.<target alias>.internal" is written.
  OffsetSyncsLocation offset_syncs_location = OffsetSyncsLocation::kTarget;
  // replication_factor: replication factor of the topics the replicator
  // creates for itself (offset-syncs, checkpoints, heartbeats) and of replicated topics.
  // -1 = the target broker's default. -1 or 1..32. Default -1.
  std::int32_t replication_factor = -1;
  // transactional_id: the target producer's transactional.id in exactly-once mode; it fences
  // an older instance of the same replicator. Default "tern-replicator.<source>.<target>".
  std::string transactional_id;
};

// Whether `name` passes `filter`: some include pattern matches the whole name and no exclude
// pattern does. Compiles the patterns on every call (CompiledNameFilter compiles them once); a
// pattern that does not compile makes it false (ParseReplicatorConfig refuses such patterns).
bool NameFilterMatches(const NameFilter& filter, std::string_view name);

// A NameFilter with its patterns compiled once. Matches() is const and safe to call from
// several threads at once. A default-constructed filter matches nothing.
class CompiledNameFilter {
 public:
  CompiledNameFilter() = default;

  // Fails with InvalidArgument naming the pattern that does not compile, e.g.
  // "field 'include[1]': bad regular expression '(': ...".
  static Result<CompiledNameFilter> Compile(const NameFilter& filter);

  // Same answer as NameFilterMatches(filter, name).
  bool Matches(std::string_view name) const;

 private:
  std::vector<std::regex> include_;
  std::vector<std::regex> exclude_;
};

// Parses YAML text. `source` names the text in errors (a file name).
Result<ReplicatorConfig> ParseReplicatorConfig(std::string_view yaml, std::string_view source);

// Reads and parses a YAML file; a missing or unreadable file is an error naming it.
Result<ReplicatorConfig> LoadReplicatorConfig(const std::string& path);

// What the files named under grpc: hold; empty strings where no file is configured.
struct GrpcSecrets {
  std::string token;     // trimmed; printable ASCII without spaces
  std::string cert_pem;  // the TLS certificate chain
  std::string key_pem;   // the TLS private key
};

// Reads the files grpc.token_file, grpc.tls.cert_file and grpc.tls.key_file name (the
// replicator calls it once at start-up, when grpc.listen is set). Fails with InvalidArgument
// naming the field and the file: a file that cannot be read, a token file with no token or
// with whitespace or control characters inside the token, an empty certificate or key file.
Result<GrpcSecrets> ReadGrpcSecrets(const ReplicatorConfig& config);

}  // namespace tern
