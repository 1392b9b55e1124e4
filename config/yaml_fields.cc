#include "config/yaml_fields.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tern::yaml_fields {

Status Bad(const std::string& name, const std::string& why) {
  return Status::InvalidArgument("field '" + name + "': " + why);
}

Status Unknown(const std::string& name) {
  return Status::InvalidArgument("unknown field '" + name + "'");
}

Result<std::int64_t> ParseInt(const YAML::Node& node, const std::string& name, std::int64_t min,
                              std::int64_t max) {
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
  return v;
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

Setter StringField(std::string* out, std::vector<std::string> allowed) {
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

std::string JoinChoices(const std::vector<std::string>& words) {
  std::string joined;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) joined += i + 1 == words.size() ? " or " : ", ";
    joined += words[i];
  }
  return joined;
}

Status ApplyFlattened(const YAML::Node& node, const std::string& prefix, const FieldMap& fields) {
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (item.second.IsMap()) {
      if (auto s = ApplyFlattened(item.second, name, fields); !s.ok()) return s;
      continue;
    }
    auto it = fields.find(name);
    if (it == fields.end()) return Unknown(name);
    if (auto s = it->second(item.second, name); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Apply(const YAML::Node& node, const std::string& prefix, const FieldMap& fields) {
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    auto it = fields.find(key);
    if (it == fields.end()) return Unknown(name);
    if (auto s = it->second(item.second, name); !s.ok()) return s;
  }
  return Status::Ok();
}

Setter Section(FieldMap fields) {
  return [fields = std::move(fields)](const YAML::Node& node, const std::string& name) {
    if (!node.IsMap()) return Bad(name, "expected a mapping");
    return Apply(node, name, fields);
  };
}

Status ParseDocument(std::string_view yaml, std::string_view source,
                     const std::function<Status(const YAML::Node& root)>& apply) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsNull() && !root.IsMap()) {
      return Status::InvalidArgument(std::string(source) + ": the top level must be a mapping");
    }
    const Status s = apply(root.IsNull() ? YAML::Node(YAML::NodeType::Map) : root);
    if (!s.ok()) return Status::InvalidArgument(std::string(source) + ": " + s.message());
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ": " + e.what());
  }
  return Status::Ok();
}

Result<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace tern::yaml_fields
