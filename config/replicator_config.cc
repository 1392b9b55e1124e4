#include "config/replicator_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "config/yaml_fields.h"

namespace tern {
namespace {

using yaml_fields::Bad;
using yaml_fields::BoolField;
using yaml_fields::EnumField;
using yaml_fields::FieldMap;
using yaml_fields::HostPortField;
using yaml_fields::IntField;
using yaml_fields::Section;
using yaml_fields::Setter;
using yaml_fields::StringField;

constexpr std::size_t kMaxAliasLength = 64;
constexpr std::int64_t kMinIntervalMs = 100;
constexpr std::int64_t kMaxIntervalMs = 3600 * 1000;
constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int32_t kMaxReplicationFactor = 32;
constexpr const char* kBootstrapServers = "bootstrap.servers";

bool IsAliasCharacter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-';
}

bool IsValidAlias(std::string_view alias) {
  return !alias.empty() && alias.size() <= kMaxAliasLength &&
         std::all_of(alias.begin(), alias.end(), IsAliasCharacter);
}

// Compiles `patterns` into `out`; a bad one is refused naming "NAME[index]".
Status CompilePatterns(const std::vector<std::string>& patterns, const std::string& name,
                       std::vector<std::regex>* out) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    try {
      out->emplace_back(patterns[i], std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Bad(name + "[" + std::to_string(i) + "]",
                 "bad regular expression '" + patterns[i] + "': " + e.what());
    }
  }
  return Status::Ok();
}

// { alias: A, bootstrap.servers: S, other.client.setting: V, ... }
Setter ClusterField(ClusterConfig* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsMap()) return Bad(name, "expected a mapping");
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      const std::string field = name + "." + key;
      if (!item.second.IsScalar()) return Bad(field, "expected a scalar");
      const std::string& value = item.second.Scalar();
      if (key == "alias") {
        if (!IsValidAlias(value)) {
          return Bad(field, "'" + value + "' is not 1.." + std::to_string(kMaxAliasLength) +
                                " characters of A-Z, a-z, 0-9, '_' and '-'");
        }
        out->alias = value;
        continue;
      }
      if (key == kBootstrapServers && value.empty()) return Bad(field, "must not be empty");
      out->client[key] = value;
    }
    return Status::Ok();
  };
}

// A list of regular expressions, each checked to compile.
Setter PatternsField(std::vector<std::string>* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsSequence()) return Bad(name, "expected a list of regular expressions");
    std::vector<std::string> patterns;
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        return Bad(name + "[" + std::to_string(i) + "]", "expected a regular expression");
      }
      patterns.push_back(node[i].Scalar());
    }
    std::vector<std::regex> compiled;
    if (auto s = CompilePatterns(patterns, name, &compiled); !s.ok()) return s;
    *out = std::move(patterns);
    return Status::Ok();
  };
}

Setter FilterField(NameFilter* out) {
  return Section({
      {"include", PatternsField(&out->include)},
      {"exclude", PatternsField(&out->exclude)},
  });
}

Setter IntervalField(std::int64_t* out) {
  return Section({{"interval_ms", IntField(out, kMinIntervalMs, kMaxIntervalMs)}});
}

// -1 (the target broker's default) or 1..kMaxReplicationFactor.
Setter ReplicationFactorField(std::int32_t* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    auto v = yaml_fields::ParseInt(node, name, -1, kMaxReplicationFactor);
    if (!v.ok()) return v.status();
    if (v.value() == 0) {
      return Bad(name, "0 is neither -1 (the target's default) nor 1.." +
                           std::to_string(kMaxReplicationFactor));
    }
    *out = static_cast<std::int32_t>(v.value());
    return Status::Ok();
  };
}

Setter OffsetSyncsLocationField(OffsetSyncsLocation* out) {
  return EnumField(out, {{"target", OffsetSyncsLocation::kTarget},
                         {"source", OffsetSyncsLocation::kSource}});
}

FieldMap Fields(ReplicatorConfig& c) {
  return {
      {"source", ClusterField(&c.source)},
      {"target", ClusterField(&c.target)},
      {"topics", FilterField(&c.topics)},
      {"groups", FilterField(&c.groups)},
      {"naming",
       EnumField(&c.naming, {{"identity", NamingPolicy::kIdentity},
                             {"prefix", NamingPolicy::kPrefix}})},
      {"delivery",
       EnumField(&c.delivery, {{"exactly-once", DeliveryMode::kExactlyOnce},
                               {"at-least-once", DeliveryMode::kAtLeastOnce}})},
      {"state_dir", StringField(&c.state_dir)},
      {"grpc", Section({
                   {"listen", HostPortField(&c.grpc_listen)},
                   {"tls", Section({{"cert_file", StringField(&c.grpc_tls_cert_file)},
                                    {"key_file", StringField(&c.grpc_tls_key_file)}})},
                   {"token_file", StringField(&c.grpc_token_file)},
               })},
      {"metrics", Section({
                      {"listen", HostPortField(&c.metrics_listen)},
                      {"partition_lag", BoolField(&c.metrics_partition_lag)},
                      {"partition_lag_limit", IntField(&c.metrics_partition_lag_limit, 1, 100000)},
                  })},
      {"discovery", IntervalField(&c.discovery_interval_ms)},
      {"groups_sync", IntervalField(&c.group_sync_interval_ms)},
      {"heartbeats", IntervalField(&c.heartbeat_interval_ms)},
      {"commit_interval_ms", IntField(&c.commit_interval_ms, 10, 60000)},
      {"transaction_start_delay_ms", IntField(&c.transaction_start_delay_ms, 0, 1000)},
      {"max_buffered_bytes", IntField(&c.max_buffered_bytes, kMiB, 16 * 1024 * kMiB)},
      {"provenance_header", BoolField(&c.provenance_header)},
      {"offset_syncs", Section({{"location", OffsetSyncsLocationField(&c.offset_syncs_location)}})},
      {"replication_factor", ReplicationFactorField(&c.replication_factor)},
      {"transactional_id", StringField(&c.transactional_id)},
  };
}

// `source` or `target` after every key has been applied: present, with its required keys.
Status CheckCluster(const YAML::Node& root, const std::string& name,
                    const ClusterConfig& cluster) {
  if (!root[name]) return Bad(name, "a mapping with alias and bootstrap.servers is required");
  if (cluster.alias.empty()) return Bad(name + ".alias", "a value is required");
  if (!cluster.client.contains(kBootstrapServers)) {
    return Bad(name + "." + kBootstrapServers, "a value is required");
  }
  return Status::Ok();
}

// The fields that have no default, and the rules between fields.
Status CheckRequired(const YAML::Node& root, const ReplicatorConfig& c) {
  if (auto s = CheckCluster(root, "source", c.source); !s.ok()) return s;
  if (auto s = CheckCluster(root, "target", c.target); !s.ok()) return s;
  if (c.source.alias == c.target.alias) {
    return Bad("target.alias",
               "'" + c.target.alias + "' is also the source's alias; the two must differ");
  }
  if (c.state_dir.empty()) return Bad("state_dir", "a value is required");
  if (c.grpc_tls_cert_file.empty() != c.grpc_tls_key_file.empty()) {
    const bool has_cert = !c.grpc_tls_cert_file.empty();
    return Bad(has_cert ? "grpc.tls.key_file" : "grpc.tls.cert_file",
               std::string("a value is required with grpc.tls.") +
                   (has_cert ? "cert_file" : "key_file"));
  }
  return Status::Ok();
}

// The whole content of the file `field` names.
Result<std::string> ReadNamedFile(const std::string& field, const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return Bad(field, "'" + path + "' is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(field, "cannot read '" + path + "'");
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return Bad(field, "cannot read '" + path + "'");
  return text;
}

// A token goes into an HTTP/2 header after "Bearer ": visible ASCII only.
bool IsTokenCharacter(char c) { return c > ' ' && c <= '~'; }

Result<std::string> ReadToken(const std::string& path) {
  constexpr const char* kField = "grpc.token_file";
  auto text = ReadNamedFile(kField, path);
  if (!text.ok()) return text.status();
  std::string_view token = text.value();
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  token.remove_prefix(std::min(token.size(), token.find_first_not_of(kSpace)));
  token.remove_suffix(token.size() - std::min(token.size(), token.find_last_not_of(kSpace) + 1));
  if (token.empty()) return Bad(kField, "'" + path + "' holds no token");
  if (!std::all_of(token.begin(), token.end(), IsTokenCharacter)) {
    return Bad(kField, "the token in '" + path +
                           "' has whitespace or control characters inside; only visible ASCII "
                           "is allowed");
  }
  return std::string(token);
}

// A PEM file of the TLS section; an empty one is refused here rather than by gRPC later.
Result<std::string> ReadPem(const std::string& field, const std::string& path) {
  auto text = ReadNamedFile(field, path);
  if (!text.ok()) return text.status();
  if (text.value().find_first_not_of(" \t\r\n") == std::string::npos) {
    return Bad(field, "'" + path + "' is empty");
  }
  return text;
}

}  // namespace

bool NameFilterMatches(const NameFilter& filter, std::string_view name) {
  auto compiled = CompiledNameFilter::Compile(filter);
  return compiled.ok() && compiled.value().Matches(name);
}

Result<CompiledNameFilter> CompiledNameFilter::Compile(const NameFilter& filter) {
  CompiledNameFilter compiled;
  if (auto s = CompilePatterns(filter.include, "include", &compiled.include_); !s.ok()) return s;
  if (auto s = CompilePatterns(filter.exclude, "exclude", &compiled.exclude_); !s.ok()) return s;
  return compiled;
}

bool CompiledNameFilter::Matches(std::string_view name) const {
  auto whole = [name](const std::regex& pattern) {
    return std::regex_match(name.begin(), name.end(), pattern);
  };
  return std::any_of(include_.begin(), include_.end(), whole) &&
         std::none_of(exclude_.begin(), exclude_.end(), whole);
}

Result<ReplicatorConfig> ParseReplicatorConfig(std::string_view yaml, std::string_view source) {
  ReplicatorConfig config;
  const FieldMap fields = Fields(config);
  const Status s = yaml_fields::ParseDocument(yaml, source, [&](const YAML::Node& root) {
    if (auto applied = yaml_fields::Apply(root, "", fields); !applied.ok()) return applied;
    return CheckRequired(root, config);
  });
  if (!s.ok()) return s;
  if (config.transactional_id.empty()) {
    config.transactional_id = "tern-replicator." + config.source.alias + "." + config.target.alias;
  }
  return config;
}

Result<ReplicatorConfig> LoadReplicatorConfig(const std::string& path) {
  auto text = yaml_fields::ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseReplicatorConfig(text.value(), path);
}

Result<GrpcSecrets> ReadGrpcSecrets(const ReplicatorConfig& config) {
  GrpcSecrets secrets;
  if (!config.grpc_token_file.empty()) {
    auto token = ReadToken(config.grpc_token_file);
    if (!token.ok()) return token.status();
    secrets.token = std::move(token).value();
  }
  if (!config.grpc_tls_cert_file.empty()) {
    auto cert = ReadPem("grpc.tls.cert_file", config.grpc_tls_cert_file);
    if (!cert.ok()) return cert.status();
    secrets.cert_pem = std::move(cert).value();
  }
  if (!config.grpc_tls_key_file.empty()) {
    auto key = ReadPem("grpc.tls.key_file", config.grpc_tls_key_file);
    if (!key.ok()) return key.status();
    secrets.key_pem = std::move(key).value();
  }
  return secrets;
}

}  // namespace tern
