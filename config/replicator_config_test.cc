#include "config/replicator_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace tern {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kMinimal = R"(
source: { alias: us-east, bootstrap.servers: "127.0.0.1:9092" }
target: { alias: eu-west, bootstrap.servers: "127.0.0.1:9093" }
topics: { include: [".*"], exclude: [] }
groups: { include: [".*"], exclude: [] }
naming: identity          # or: prefix
state_dir: ./replicator-state
grpc: { listen: "127.0.0.1:7070" }
metrics: { listen: "127.0.0.1:9464" }
)";

// The smallest valid file: the required fields only.
constexpr const char* kRequired = R"(
source: { alias: us-east, bootstrap.servers: "h1:9092" }
target: { alias: eu-west, bootstrap.servers: "h2:9092" }
state_dir: /var/lib/tern-replicator
)";

// The error ParseReplicatorConfig gives for `yaml`, or "" when it parses.
std::string ErrorOf(const std::string& yaml) {
  auto c = ParseReplicatorConfig(yaml, "replicator.yaml");
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  return c.status().message();
}

// kRequired with `extra` appended.
std::string With(const std::string& extra) { return std::string(kRequired) + extra; }

TEST(ReplicatorConfigTest, MinimalFileParses) {
  auto c = ParseReplicatorConfig(kMinimal, "replicator.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& v = c.value();
  EXPECT_EQ(v.source.alias, "us-east");
  EXPECT_EQ(v.source.client, (std::map<std::string, std::string>{
                                 {"bootstrap.servers", "127.0.0.1:9092"}}));
  EXPECT_EQ(v.target.alias, "eu-west");
  EXPECT_EQ(v.target.client.at("bootstrap.servers"), "127.0.0.1:9093");
  EXPECT_EQ(v.topics.include, std::vector<std::string>{".*"});
  EXPECT_TRUE(v.topics.exclude.empty());
  EXPECT_EQ(v.groups.include, std::vector<std::string>{".*"});
  EXPECT_EQ(v.naming, NamingPolicy::kIdentity);
  EXPECT_EQ(v.state_dir, "./replicator-state");
  EXPECT_EQ(v.grpc_listen, (HostPort{"127.0.0.1", 7070}));
  EXPECT_EQ(v.metrics_listen, (HostPort{"127.0.0.1", 9464}));
}

TEST(ReplicatorConfigTest, UnsetFieldsTakeTheirDefaults) {
  auto c = ParseReplicatorConfig(kRequired, "replicator.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& v = c.value();
  EXPECT_EQ(v.topics.include, std::vector<std::string>{".*"});
  EXPECT_TRUE(v.topics.exclude.empty());
  EXPECT_EQ(v.groups.include, std::vector<std::string>{".*"});
  EXPECT_TRUE(v.groups.exclude.empty());
  EXPECT_EQ(v.naming, NamingPolicy::kIdentity);
  EXPECT_EQ(v.delivery, DeliveryMode::kExactlyOnce);
  EXPECT_FALSE(v.grpc_listen.has_value());
  EXPECT_EQ(v.grpc_tls_cert_file, "");
  EXPECT_EQ(v.grpc_tls_key_file, "");
  EXPECT_EQ(v.grpc_token_file, "");
  EXPECT_FALSE(v.metrics_listen.has_value());
  EXPECT_EQ(v.discovery_interval_ms, 5000);
  EXPECT_EQ(v.group_sync_interval_ms, 5000);
  EXPECT_EQ(v.heartbeat_interval_ms, 1000);
  EXPECT_EQ(v.commit_interval_ms, 1000);
  EXPECT_EQ(v.transaction_start_delay_ms, 4);
  EXPECT_EQ(v.max_buffered_bytes, 64LL * 1024 * 1024);
  EXPECT_TRUE(v.provenance_header);
  EXPECT_EQ(v.offset_syncs_location, OffsetSyncsLocation::kTarget);
  EXPECT_EQ(v.replication_factor, -1);
  EXPECT_EQ(v.transactional_id, "tern-replicator.us-east.eu-west");
}

TEST(ReplicatorConfigTest, MissingIncludeMeansEverything) {
  auto c = ParseReplicatorConfig(With("topics: { exclude: [\"tmp-.*\"] }\n"), "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().topics.include, std::vector<std::string>{".*"});
  EXPECT_EQ(c.value().topics.exclude, std::vector<std::string>{"tmp-.*"});
}

TEST(ReplicatorConfigTest, ExampleFileParsesToTheDefaults) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/config/tern-replicator.example.yaml");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto c = ParseReplicatorConfig(text.str(), "example");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& v = c.value();
  const ReplicatorConfig defaults;
  EXPECT_EQ(v.source.alias, "us-east");
  EXPECT_EQ(v.target.alias, "eu-west");
  EXPECT_EQ(v.source.client.size(), 1U);
  EXPECT_EQ(v.state_dir, "./replicator-state");
  EXPECT_EQ(v.topics.include, defaults.topics.include);
  EXPECT_EQ(v.topics.exclude, defaults.topics.exclude);
  EXPECT_EQ(v.groups.include, defaults.groups.include);
  EXPECT_EQ(v.groups.exclude, defaults.groups.exclude);
  EXPECT_EQ(v.naming, defaults.naming);
  EXPECT_EQ(v.delivery, defaults.delivery);
  EXPECT_EQ(v.grpc_listen, defaults.grpc_listen);
  EXPECT_EQ(v.grpc_tls_cert_file, defaults.grpc_tls_cert_file);
  EXPECT_EQ(v.grpc_tls_key_file, defaults.grpc_tls_key_file);
  EXPECT_EQ(v.grpc_token_file, defaults.grpc_token_file);
  EXPECT_EQ(v.metrics_listen, defaults.metrics_listen);
  EXPECT_EQ(v.metrics_partition_lag, defaults.metrics_partition_lag);
  EXPECT_EQ(v.metrics_partition_lag_limit, defaults.metrics_partition_lag_limit);
  EXPECT_EQ(v.discovery_interval_ms, defaults.discovery_interval_ms);
  EXPECT_EQ(v.group_sync_interval_ms, defaults.group_sync_interval_ms);
  EXPECT_EQ(v.heartbeat_interval_ms, defaults.heartbeat_interval_ms);
  EXPECT_EQ(v.commit_interval_ms, defaults.commit_interval_ms);
  EXPECT_EQ(v.max_buffered_bytes, defaults.max_buffered_bytes);
  EXPECT_EQ(v.provenance_header, defaults.provenance_header);
  EXPECT_EQ(v.offset_syncs_location, defaults.offset_syncs_location);
  EXPECT_EQ(v.replication_factor, defaults.replication_factor);
  EXPECT_EQ(v.transactional_id, "tern-replicator.us-east.eu-west");
}

TEST(ReplicatorConfigTest, EveryFieldCanBeSetFromTheFile) {
  auto c = ParseReplicatorConfig(R"(
source:
  alias: dc_1
  bootstrap.servers: "a1:9092,a2:9092"
target:
  alias: DC-2
  bootstrap.servers: b1:9092
topics:
  include: ["orders\\..*", "payments"]
  exclude: ["orders\\.tmp"]
groups:
  include: ["billing-.*"]
  exclude: ["billing-test"]
naming: prefix
delivery: at-least-once
state_dir: /var/lib/tern-replicator
grpc:
  listen: 0.0.0.0:7171
  tls:
    cert_file: /etc/tern/grpc.crt
    key_file: /etc/tern/grpc.key
  token_file: /etc/tern/grpc-token
metrics:
  listen: "[::1]:9465"
  partition_lag: true
  partition_lag_limit: 20
discovery:
  interval_ms: 100
groups_sync:
  interval_ms: 3600000
heartbeats:
  interval_ms: 2500
commit_interval_ms: 10
transaction_start_delay_ms: 0
max_buffered_bytes: 1048576
provenance_header: false
offset_syncs:
  location: source
replication_factor: 3
transactional_id: replicator-a
)",
                                 "all.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& v = c.value();
  EXPECT_EQ(v.source.alias, "dc_1");
  EXPECT_EQ(v.source.client.at("bootstrap.servers"), "a1:9092,a2:9092");
  EXPECT_EQ(v.target.alias, "DC-2");
  EXPECT_EQ(v.target.client.at("bootstrap.servers"), "b1:9092");
  EXPECT_EQ(v.topics.include, (std::vector<std::string>{"orders\\..*", "payments"}));
  EXPECT_EQ(v.topics.exclude, std::vector<std::string>{"orders\\.tmp"});
  EXPECT_EQ(v.groups.include, std::vector<std::string>{"billing-.*"});
  EXPECT_EQ(v.groups.exclude, std::vector<std::string>{"billing-test"});
  EXPECT_EQ(v.naming, NamingPolicy::kPrefix);
  EXPECT_EQ(v.delivery, DeliveryMode::kAtLeastOnce);
  EXPECT_EQ(v.state_dir, "/var/lib/tern-replicator");
  EXPECT_EQ(v.grpc_listen, (HostPort{"0.0.0.0", 7171}));
  EXPECT_EQ(v.grpc_tls_cert_file, "/etc/tern/grpc.crt");
  EXPECT_EQ(v.grpc_tls_key_file, "/etc/tern/grpc.key");
  EXPECT_EQ(v.grpc_token_file, "/etc/tern/grpc-token");
  EXPECT_EQ(v.metrics_listen, (HostPort{"::1", 9465}));
  EXPECT_TRUE(v.metrics_partition_lag);
  EXPECT_EQ(v.metrics_partition_lag_limit, 20);
  EXPECT_EQ(v.discovery_interval_ms, 100);
  EXPECT_EQ(v.group_sync_interval_ms, 3600000);
  EXPECT_EQ(v.heartbeat_interval_ms, 2500);
  EXPECT_EQ(v.commit_interval_ms, 10);
  EXPECT_EQ(v.transaction_start_delay_ms, 0);
  EXPECT_EQ(v.max_buffered_bytes, 1048576);
  EXPECT_FALSE(v.provenance_header);
  EXPECT_EQ(v.offset_syncs_location, OffsetSyncsLocation::kSource);
  EXPECT_EQ(v.replication_factor, 3);
  EXPECT_EQ(v.transactional_id, "replicator-a");
}

TEST(ReplicatorConfigTest, ClientSettingsPassThroughAsWritten) {
  auto c = ParseReplicatorConfig(R"(
source:
  alias: us-east
  bootstrap.servers: "h1:9092"
  security.protocol: SASL_SSL
  sasl.mechanism: SCRAM-SHA-512
  sasl.username: replicator
  sasl.password: "s3cr:et"
  ssl.ca.location: /etc/ssl/ca.pem
  enable.ssl.certificate.verification: true
  socket.timeout.ms: 30000
  client.id: ""
target: { alias: eu-west, bootstrap.servers: "h2:9092", acks: all }
state_dir: s
)",
                                 "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().source.client, (std::map<std::string, std::string>{
                                         {"bootstrap.servers", "h1:9092"},
                                         {"security.protocol", "SASL_SSL"},
                                         {"sasl.mechanism", "SCRAM-SHA-512"},
                                         {"sasl.username", "replicator"},
                                         {"sasl.password", "s3cr:et"},
                                         {"ssl.ca.location", "/etc/ssl/ca.pem"},
                                         {"enable.ssl.certificate.verification", "true"},
                                         {"socket.timeout.ms", "30000"},
                                         {"client.id", ""},
                                     }));
  EXPECT_EQ(c.value().target.client, (std::map<std::string, std::string>{
                                         {"bootstrap.servers", "h2:9092"}, {"acks", "all"}}));
}

TEST(ReplicatorConfigTest, ErrorsStartWithTheSourceName) {
  EXPECT_EQ(ErrorOf(With("naming: foo\n")),
            "replicator.yaml: field 'naming': expected identity or prefix, got 'foo'");
  EXPECT_EQ(ErrorOf(With("nameing: prefix\n")), "replicator.yaml: unknown field 'nameing'");
}

TEST(ReplicatorConfigTest, UnknownFieldsAreNamedAtEveryLevel) {
  EXPECT_THAT(ErrorOf(With("discovery: { interval: 5 }\n")),
              HasSubstr("unknown field 'discovery.interval'"));
  EXPECT_THAT(ErrorOf(With("grpc: { listen: \"h:1\", tokens: t }\n")),
              HasSubstr("unknown field 'grpc.tokens'"));
  EXPECT_THAT(ErrorOf(With("grpc: { tls: { cert_file: c, key_file: k, ca_file: a } }\n")),
              HasSubstr("unknown field 'grpc.tls.ca_file'"));
  EXPECT_THAT(ErrorOf(With("metrics: { port: 9464 }\n")), HasSubstr("unknown field 'metrics.port'"));
  EXPECT_THAT(ErrorOf(With("topics: { includes: [a] }\n")),
              HasSubstr("unknown field 'topics.includes'"));
  EXPECT_THAT(ErrorOf(With("groups: { exclude: [], other: 1 }\n")),
              HasSubstr("unknown field 'groups.other'"));
  EXPECT_THAT(ErrorOf(With("offset_syncs: { topic: x }\n")),
              HasSubstr("unknown field 'offset_syncs.topic'"));
  EXPECT_THAT(ErrorOf(With("groups_sync: { interval_ms: 100, x: 1 }\n")),
              HasSubstr("unknown field 'groups_sync.x'"));
  EXPECT_THAT(ErrorOf(With("heartbeats: { topic: hb }\n")),
              HasSubstr("unknown field 'heartbeats.topic'"));
  // Dotted names are keys of their own, not paths: sections must be written as mappings.
  EXPECT_THAT(ErrorOf(With("discovery.interval_ms: 100\n")),
              HasSubstr("unknown field 'discovery.interval_ms'"));
}

TEST(ReplicatorConfigTest, WrongTypesAreNamed) {
  EXPECT_THAT(ErrorOf(With("commit_interval_ms: soon\n")),
              HasSubstr("field 'commit_interval_ms': expected an integer, got 'soon'"));
  EXPECT_THAT(ErrorOf(With("provenance_header: yes\n")),
              HasSubstr("field 'provenance_header': expected true or false, got 'yes'"));
  EXPECT_THAT(ErrorOf(With("delivery: once\n")),
              HasSubstr("field 'delivery': expected exactly-once or at-least-once, got 'once'"));
  EXPECT_THAT(ErrorOf(With("offset_syncs: { location: both }\n")),
              HasSubstr("field 'offset_syncs.location': expected target or source, got 'both'"));
  EXPECT_THAT(ErrorOf(With("grpc: { listen: nowhere }\n")), HasSubstr("field 'grpc.listen': "));
  EXPECT_THAT(ErrorOf(With("grpc: { tls: true }\n")),
              HasSubstr("field 'grpc.tls': expected a mapping"));
  EXPECT_THAT(ErrorOf(With("grpc: { tls: { cert_file: [a], key_file: k } }\n")),
              HasSubstr("field 'grpc.tls.cert_file': expected a string"));
  EXPECT_THAT(ErrorOf(With("grpc: { token_file: { path: t } }\n")),
              HasSubstr("field 'grpc.token_file': expected a string"));
  EXPECT_THAT(ErrorOf(With("metrics: { listen: [a] }\n")),
              HasSubstr("field 'metrics.listen': expected HOST:PORT"));
  EXPECT_THAT(ErrorOf(With("metrics: { partition_lag_limit: 0 }\n")),
              HasSubstr("field 'metrics.partition_lag_limit'"));
  EXPECT_THAT(ErrorOf(With("metrics: { partition_lag: maybe }\n")),
              HasSubstr("field 'metrics.partition_lag'"));
  EXPECT_THAT(ErrorOf(With("discovery: 5000\n")),
              HasSubstr("field 'discovery': expected a mapping"));
  EXPECT_THAT(ErrorOf(With("transactional_id: [a]\n")),
              HasSubstr("field 'transactional_id': expected a string"));
  EXPECT_THAT(ErrorOf(With("topics: { include: \".*\" }\n")),
              HasSubstr("field 'topics.include': expected a list of regular expressions"));
  EXPECT_THAT(ErrorOf(With("groups: { exclude: [a, [b]] }\n")),
              HasSubstr("field 'groups.exclude[1]': expected a regular expression"));
}

TEST(ReplicatorConfigTest, OutOfRangeIsNamed) {
  EXPECT_THAT(ErrorOf(With("discovery: { interval_ms: 99 }\n")),
              HasSubstr("field 'discovery.interval_ms': 99 is outside 100..3600000"));
  EXPECT_THAT(ErrorOf(With("groups_sync: { interval_ms: 3600001 }\n")),
              HasSubstr("field 'groups_sync.interval_ms': 3600001 is outside 100..3600000"));
  EXPECT_THAT(ErrorOf(With("heartbeats: { interval_ms: 0 }\n")),
              HasSubstr("field 'heartbeats.interval_ms': 0 is outside"));
  EXPECT_THAT(ErrorOf(With("commit_interval_ms: 60001\n")),
              HasSubstr("field 'commit_interval_ms': 60001 is outside 10..60000"));
  EXPECT_THAT(ErrorOf(With("transaction_start_delay_ms: -1\n")),
              HasSubstr("field 'transaction_start_delay_ms': -1 is outside 0..1000"));
  EXPECT_THAT(ErrorOf(With("max_buffered_bytes: 1048575\n")),
              HasSubstr("field 'max_buffered_bytes': 1048575 is outside 1048576..17179869184"));
  EXPECT_EQ(ErrorOf(With("max_buffered_bytes: 17179869184\n")), "");
  EXPECT_THAT(ErrorOf(With("replication_factor: 33\n")),
              HasSubstr("field 'replication_factor': 33 is outside -1..32"));
  EXPECT_THAT(ErrorOf(With("replication_factor: 0\n")),
              HasSubstr("field 'replication_factor': 0 is neither -1"));
  EXPECT_EQ(ErrorOf(With("replication_factor: 1\n")), "");
}

TEST(ReplicatorConfigTest, BadRegexIsNamedWithItsIndex) {
  const std::string error = ErrorOf(With("topics: { include: [a, b, \"(unclosed\"] }\n"));
  EXPECT_THAT(error, StartsWith("replicator.yaml: field 'topics.include[2]': bad regular "
                                "expression '(unclosed': "));
  EXPECT_GT(error.size(), std::string("replicator.yaml: field 'topics.include[2]': bad regular "
                                      "expression '(unclosed': ")
                              .size());
  EXPECT_THAT(ErrorOf(With("groups: { exclude: [\"[z-a]\"] }\n")),
              HasSubstr("field 'groups.exclude[0]': bad regular expression '[z-a]'"));
}

TEST(ReplicatorConfigTest, RequiredFieldsAreNamed) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("field 'source': "));
  EXPECT_THAT(ErrorOf("source: { alias: a, bootstrap.servers: h:1 }\nstate_dir: s\n"),
              HasSubstr("field 'target': "));
  EXPECT_THAT(ErrorOf("source: { bootstrap.servers: h:1 }\n"
                      "target: { alias: b, bootstrap.servers: h:2 }\nstate_dir: s\n"),
              HasSubstr("field 'source.alias': a value is required"));
  EXPECT_THAT(ErrorOf("source: { alias: a, bootstrap.servers: h:1 }\n"
                      "target: { alias: b }\nstate_dir: s\n"),
              HasSubstr("field 'target.bootstrap.servers': a value is required"));
  EXPECT_THAT(ErrorOf("source: { alias: a, bootstrap.servers: h:1 }\n"
                      "target: { alias: b, bootstrap.servers: h:2 }\n"),
              HasSubstr("field 'state_dir': a value is required"));
  EXPECT_THAT(ErrorOf(With("state_dir: \"\"\n")),
              HasSubstr("field 'state_dir': a value is required"));
}

TEST(ReplicatorConfigTest, ClusterSectionsAreChecked) {
  EXPECT_THAT(ErrorOf(R"(
source: { alias: us-east, bootstrap.servers: "h:1", ssl.ca.location: [a, b] }
target: { alias: eu-west, bootstrap.servers: "h:2" }
state_dir: s
)"),
              HasSubstr("field 'source.ssl.ca.location': expected a scalar"));
  EXPECT_THAT(ErrorOf("source: { alias: us-east, bootstrap.servers: \"h:1\", sasl: { a: b } }\n"),
              HasSubstr("field 'source.sasl': expected a scalar"));
  EXPECT_THAT(ErrorOf("source: us-east\n"), HasSubstr("field 'source': expected a mapping"));
  EXPECT_THAT(ErrorOf("source: { alias: us.east, bootstrap.servers: \"h:1\" }\n"),
              HasSubstr("field 'source.alias': 'us.east' is not 1..64 characters"));
  EXPECT_THAT(ErrorOf("target: { alias: \"\", bootstrap.servers: \"h:1\" }\n"),
              HasSubstr("field 'target.alias': '' is not 1..64 characters"));
  EXPECT_THAT(ErrorOf("target: { alias: " + std::string(65, 'a') + " }\n"),
              HasSubstr("field 'target.alias': "));
  EXPECT_EQ(ErrorOf("source: { alias: " + std::string(64, 'a') +
                    ", bootstrap.servers: \"h:1\" }\n"
                    "target: { alias: b, bootstrap.servers: \"h:2\" }\nstate_dir: s\n"),
            "");
  EXPECT_THAT(ErrorOf("source: { alias: a, bootstrap.servers: \"\" }\n"),
              HasSubstr("field 'source.bootstrap.servers': must not be empty"));
}

TEST(ReplicatorConfigTest, SourceAndTargetAliasesMustDiffer) {
  EXPECT_THAT(ErrorOf("source: { alias: dc, bootstrap.servers: \"h:1\" }\n"
                      "target: { alias: dc, bootstrap.servers: \"h:2\" }\nstate_dir: s\n"),
              HasSubstr("field 'target.alias': 'dc' is also the source's alias"));
}

TEST(ReplicatorConfigTest, TlsNeedsBothFilesOrNeither) {
  EXPECT_EQ(ErrorOf(With("grpc: { tls: { cert_file: /c.pem } }\n")),
            "replicator.yaml: field 'grpc.tls.key_file': a value is required with "
            "grpc.tls.cert_file");
  EXPECT_EQ(ErrorOf(With("grpc: { tls: { key_file: /k.pem, cert_file: \"\" } }\n")),
            "replicator.yaml: field 'grpc.tls.cert_file': a value is required with "
            "grpc.tls.key_file");
  EXPECT_EQ(ErrorOf(With("grpc: { tls: { cert_file: /c.pem, key_file: /k.pem } }\n")), "");
  EXPECT_EQ(ErrorOf(With("grpc: { tls: { cert_file: \"\", key_file: \"\" } }\n")), "");
}

TEST(ReplicatorConfigTest, EmptyTransactionalIdTakesTheDefault) {
  auto c = ParseReplicatorConfig(With("transactional_id: \"\"\n"), "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().transactional_id, "tern-replicator.us-east.eu-west");
}

TEST(ReplicatorConfigTest, TopLevelMustBeAMapping) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "replicator.yaml: the top level must be a mapping");
}

TEST(ReplicatorConfigTest, MalformedYamlGivesPosition) {
  const std::string error = ErrorOf("source: { alias: us-east\n");
  EXPECT_THAT(error, StartsWith("replicator.yaml: "));
  EXPECT_THAT(error, HasSubstr("line"));
}

TEST(ReplicatorConfigTest, MissingFileIsNamed) {
  auto c = LoadReplicatorConfig("/nonexistent/replicator.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/replicator.yaml"));
}

TEST(ReplicatorConfigTest, LoadsTheExampleFile) {
  auto c = LoadReplicatorConfig(std::string(TERN_SOURCE_DIR) +
                                "/config/tern-replicator.example.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c.value().source.alias, "us-east");
}

// A file in the test's temporary directory holding `text`; returns its path.
std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

TEST(GrpcSecretsTest, NothingConfiguredReadsNothing) {
  auto secrets = ReadGrpcSecrets(ReplicatorConfig{});
  ASSERT_TRUE(secrets.ok()) << secrets.status().ToString();
  EXPECT_EQ(secrets.value().token, "");
  EXPECT_EQ(secrets.value().cert_pem, "");
  EXPECT_EQ(secrets.value().key_pem, "");
}

TEST(GrpcSecretsTest, TokenIsTrimmedAndFilesAreReadWhole) {
  ReplicatorConfig config;
  config.grpc_token_file = WriteFile("token-trimmed", "  s3cr.et-Tok3n/+=\r\n\n");
  config.grpc_tls_cert_file = WriteFile("cert.pem", "-----BEGIN CERTIFICATE-----\nAA\n");
  config.grpc_tls_key_file = WriteFile("key.pem", "-----BEGIN PRIVATE KEY-----\nBB\n");
  auto secrets = ReadGrpcSecrets(config);
  ASSERT_TRUE(secrets.ok()) << secrets.status().ToString();
  EXPECT_EQ(secrets.value().token, "s3cr.et-Tok3n/+=");
  EXPECT_EQ(secrets.value().cert_pem, "-----BEGIN CERTIFICATE-----\nAA\n");
  EXPECT_EQ(secrets.value().key_pem, "-----BEGIN PRIVATE KEY-----\nBB\n");
}

TEST(GrpcSecretsTest, EmptyOrBlankTokenFileIsRefused) {
  for (const char* text : {"", " \n\t\n"}) {
    ReplicatorConfig config;
    config.grpc_token_file = WriteFile("token-blank", text);
    auto secrets = ReadGrpcSecrets(config);
    ASSERT_FALSE(secrets.ok());
    EXPECT_EQ(secrets.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(secrets.status().message(),
              "field 'grpc.token_file': '" + config.grpc_token_file + "' holds no token");
  }
}

TEST(GrpcSecretsTest, TokenWithSpaceOrControlCharacterInsideIsRefused) {
  for (const char* text : {"two words\n", "line\none", "tab\there", "nul\x01"}) {
    ReplicatorConfig config;
    config.grpc_token_file = WriteFile("token-bad", text);
    auto secrets = ReadGrpcSecrets(config);
    ASSERT_FALSE(secrets.ok()) << text;
    EXPECT_THAT(secrets.status().message(),
                StartsWith("field 'grpc.token_file': the token in '" + config.grpc_token_file +
                           "' has whitespace or control characters inside"));
    EXPECT_THAT(secrets.status().message(), ::testing::Not(HasSubstr("words")));
  }
}

TEST(GrpcSecretsTest, UnreadableFilesAreNamedWithTheirField) {
  ReplicatorConfig config;
  config.grpc_token_file = "/nonexistent/token";
  EXPECT_EQ(ReadGrpcSecrets(config).status().message(),
            "field 'grpc.token_file': cannot read '/nonexistent/token'");

  config.grpc_token_file = ::testing::TempDir();
  EXPECT_THAT(ReadGrpcSecrets(config).status().message(),
              HasSubstr("field 'grpc.token_file': '" + ::testing::TempDir() + "' is a directory"));

  config.grpc_token_file.clear();
  config.grpc_tls_cert_file = "/nonexistent/cert.pem";
  config.grpc_tls_key_file = WriteFile("key-ok.pem", "key");
  EXPECT_EQ(ReadGrpcSecrets(config).status().message(),
            "field 'grpc.tls.cert_file': cannot read '/nonexistent/cert.pem'");

  config.grpc_tls_cert_file = WriteFile("cert-ok.pem", "cert");
  config.grpc_tls_key_file = WriteFile("key-empty.pem", "\n");
  EXPECT_EQ(ReadGrpcSecrets(config).status().message(),
            "field 'grpc.tls.key_file': '" + config.grpc_tls_key_file + "' is empty");
}

TEST(NameFilterTest, IncludeMatchesTheWholeName) {
  const NameFilter filter{.include = {"orders", "pay.*"}, .exclude = {}};
  EXPECT_TRUE(NameFilterMatches(filter, "orders"));
  EXPECT_TRUE(NameFilterMatches(filter, "payments"));
  EXPECT_FALSE(NameFilterMatches(filter, "orders-eu"));
  EXPECT_FALSE(NameFilterMatches(filter, "old-orders"));
  EXPECT_FALSE(NameFilterMatches(filter, "prepay"));
}

TEST(NameFilterTest, ExcludeWins) {
  const NameFilter filter{.include = {".*"}, .exclude = {"tmp-.*", "scratch"}};
  EXPECT_TRUE(NameFilterMatches(filter, "orders"));
  EXPECT_TRUE(NameFilterMatches(filter, "my-tmp-x"));
  EXPECT_TRUE(NameFilterMatches(filter, "scratch2"));
  EXPECT_FALSE(NameFilterMatches(filter, "tmp-1"));
  EXPECT_FALSE(NameFilterMatches(filter, "scratch"));
}

TEST(NameFilterTest, DefaultMatchesEverythingAndEmptyIncludeNothing) {
  EXPECT_TRUE(NameFilterMatches(NameFilter{}, "anything.at-all"));
  EXPECT_TRUE(NameFilterMatches(NameFilter{}, ""));
  EXPECT_FALSE(NameFilterMatches(NameFilter{.include = {}, .exclude = {}}, "orders"));
}

TEST(NameFilterTest, BadPatternMatchesNothing) {
  EXPECT_FALSE(NameFilterMatches(NameFilter{.include = {"("}, .exclude = {}}, "("));
}

TEST(NameFilterTest, CompiledFilterAgreesAndNamesABadPattern) {
  const NameFilter filter{.include = {"orders\\..*", "payments"}, .exclude = {".*\\.tmp"}};
  auto compiled = CompiledNameFilter::Compile(filter);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  for (const char* name : {"orders.eu", "orders.tmp", "payments", "paymentsX", "orders"}) {
    EXPECT_EQ(compiled.value().Matches(name), NameFilterMatches(filter, name)) << name;
  }
  EXPECT_TRUE(compiled.value().Matches("orders.eu"));
  EXPECT_FALSE(compiled.value().Matches("orders.tmp"));
  EXPECT_FALSE(CompiledNameFilter().Matches("orders"));

  auto bad = CompiledNameFilter::Compile(NameFilter{.include = {".*"}, .exclude = {"a", "*"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), StartsWith("field 'exclude[1]': bad regular expression"));
}

TEST(NameFilterTest, FiltersFromTheFileMatch) {
  auto c = ParseReplicatorConfig(
      With("topics: { include: [\"orders\\\\..*\"], exclude: [\"orders\\\\.internal\"] }\n"
           "groups: { exclude: [\"console-consumer-.*\"] }\n"),
      "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(NameFilterMatches(c.value().topics, "orders.eu"));
  EXPECT_FALSE(NameFilterMatches(c.value().topics, "orders.internal"));
  EXPECT_FALSE(NameFilterMatches(c.value().topics, "ordersX"));
  EXPECT_TRUE(NameFilterMatches(c.value().groups, "billing"));
  EXPECT_FALSE(NameFilterMatches(c.value().groups, "console-consumer-42"));
}

}  // namespace
}  // namespace tern
