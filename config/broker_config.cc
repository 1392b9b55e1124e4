#include "config/broker_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace tern {
namespace {

using Setter = std::function<Status(const YAML::Node&, const std::string& name)>;

Status Bad(const std::string& name, const std::string& why) {
  return Status::InvalidArgument("field '" + name + "': " + why);
}

template <typename Int>
Setter IntField(Int* out, std::int64_t min, std::int64_t max) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsScalar()) return Bad(name, "expected an integer");
    std::int64_t v = 0;
    try {
      std::size_t used = 0;
      v = std::stoll(node.Scalar(), &used);
      if (used != node.Scalar().size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      return Bad(name, "expected an integer, got '" + node.Scalar() + "'");
    }
    if (v < min || v > max) {
      return Bad(name, std::to_string(v) + " is outside " + std::to_string(min) + ".." +
                           std::to_string(max));
    }
    *out = static_cast<Int>(v);
    return Status::Ok();
  };
}

Setter BoolField(bool* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsScalar()) return Bad(name, "expected true or false");
    const auto& s = node.Scalar();
    if (s == "true") {
      *out = true;
    } else if (s == "false") {
      *out = false;
    } else {
      return Bad(name, "expected true or false, got '" + s + "'");
    }
    return Status::Ok();
  };
}

Setter StringField(std::string* out, std::vector<std::string> allowed = {}) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsScalar()) return Bad(name, "expected a string");
    if (!allowed.empty() &&
        std::find(allowed.begin(), allowed.end(), node.Scalar()) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Bad(name, "'" + node.Scalar() + "' is not one of: " + list);
    }
    *out = node.Scalar();
    return Status::Ok();
  };
}

Setter HostPortField(std::optional<HostPort>* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    if (!node.IsScalar()) return Bad(name, "expected HOST:PORT");
    if (node.Scalar().empty()) {
      out->reset();
      return Status::Ok();
    }
    auto parsed = ParseHostPort(node.Scalar());
    if (!parsed.ok()) return Bad(name, parsed.status().message());
    *out = parsed.value();
    return Status::Ok();
  };
}

Setter FsyncField(FsyncPolicy* out) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    std::string text;
    if (auto s = StringField(&text, {"always", "interval", "never"})(node, name); !s.ok()) {
      return s;
    }
    *out = text == "always" ? FsyncPolicy::kAlways
           : text == "interval" ? FsyncPolicy::kInterval
                                : FsyncPolicy::kNever;
    return Status::Ok();
  };
}

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

std::map<std::string, Setter> Fields(BrokerConfig& c) {
  return {
      {"node_id", IntField(&c.node_id, 0, kInt32Max)},
      {"data_dir", StringField(&c.data_dir)},
      {"listener", HostPortField(&c.listener)},
      {"advertised_listener", HostPortField(&c.advertised_listener)},
      {"auto_create_topics", BoolField(&c.auto_create_topics)},
      {"default_partitions", IntField(&c.default_partitions, 1, 100000)},
      {"max_request_bytes", IntField(&c.max_request_bytes, 1024, kInt32Max)},
      {"max_in_flight_per_connection", IntField(&c.max_in_flight_per_connection, 1, 4096)},
      {"fsync", FsyncField(&c.fsync)},
      {"fsync_interval_ms", IntField(&c.fsync_interval_ms, 1, kInt64Max)},
      {"retention_check_interval_ms", IntField(&c.retention_check_interval_ms, 1, kInt64Max)},
      {"metrics_listen", HostPortField(&c.metrics_listen)},
      {"log.segment_bytes", IntField(&c.log.segment_bytes, 14, kInt32Max)},
      {"log.segment_ms", IntField(&c.log.segment_ms, 1, kInt64Max)},
      {"log.retention_ms", IntField(&c.log.retention_ms, -1, kInt64Max)},
      {"log.retention_bytes", IntField(&c.log.retention_bytes, -1, kInt64Max)},
      {"log.max_message_bytes", IntField(&c.log.max_message_bytes, 0, kInt32Max)},
      {"log.index_interval_bytes", IntField(&c.log.index_interval_bytes, 0, kInt32Max)},
      {"log.cleanup_policy", StringField(&c.log.cleanup_policy, {"delete", "compact"})},
  };
}

// Applies every scalar under `node` (nested maps become dotted names) through `fields`.
Status Apply(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, Setter>& fields) {
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (item.second.IsMap()) {
      if (auto s = Apply(item.second, name, fields); !s.ok()) return s;
      continue;
    }
    auto it = fields.find(name);
    if (it == fields.end()) return Status::InvalidArgument("unknown field '" + name + "'");
    if (auto s = it->second(item.second, name); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<BrokerConfig> ParseBrokerConfig(std::string_view yaml, std::string_view source) {
  BrokerConfig config;
  auto fields = Fields(config);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull()) return config;
    if (!root.IsMap()) {
      return Status::InvalidArgument(std::string(source) + ": the top level must be a mapping");
    }
    if (auto s = Apply(root, "", fields); !s.ok()) {
      return Status::InvalidArgument(std::string(source) + ": " + s.message());
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ": " + e.what());
  }
  return config;
}

Result<BrokerConfig> LoadBrokerConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return ParseBrokerConfig(text.str(), path);
}

}  // namespace tern
