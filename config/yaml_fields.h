// Field setters shared by the YAML configs of config/ (broker_config.cc, replicator_config.cc).
// Internal to config/: programs include broker_config.h or replicator_config.h instead.
//
// A Setter reads one YAML value into one struct field and returns an error naming the field,
// "field 'NAME': WHY"; the parse functions put the source name in front of it
// ("replicator.yaml: field 'naming': ..."). The setters keep their target pointers, so a
// FieldMap must not outlive the struct it was built for.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/host_port.h"
#include "common/result.h"

namespace tern::yaml_fields {

using Setter = std::function<Status(const YAML::Node& node, const std::string& name)>;
using FieldMap = std::map<std::string, Setter>;

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// "field 'NAME': WHY", as InvalidArgument.
Status Bad(const std::string& name, const std::string& why);

// "unknown field 'NAME'", as InvalidArgument.
Status Unknown(const std::string& name);

// The integer a scalar holds, within min..max; trailing characters are refused.
Result<std::int64_t> ParseInt(const YAML::Node& node, const std::string& name, std::int64_t min,
                              std::int64_t max);

// An integer in min..max.
template <typename Int>
Setter IntField(Int* out, std::int64_t min, std::int64_t max) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    auto v = ParseInt(node, name, min, max);
    if (!v.ok()) return v.status();
    *out = static_cast<Int>(v.value());
    return Status::Ok();
  };
}

// true or false.
Setter BoolField(bool* out);

// Any scalar, or with `allowed` one of those words ("'x' is not one of: a, b").
Setter StringField(std::string* out, std::vector<std::string> allowed = {});

// HOST:PORT; an empty string leaves it unset.
Setter HostPortField(std::optional<HostPort>* out);

// "a", "a or b", "a, b or c".
std::string JoinChoices(const std::vector<std::string>& words);

// One of the words of `choices`, stored as its enum value. A wrong word is refused with
// "expected a, b or c, got 'x'".
template <typename Enum>
Setter EnumField(Enum* out, std::vector<std::pair<std::string, Enum>> choices) {
  return [=](const YAML::Node& node, const std::string& name) -> Status {
    std::vector<std::string> words;
    words.reserve(choices.size());
    for (const auto& choice : choices) words.push_back(choice.first);
    const std::string expected = "expected " + JoinChoices(words);
    if (!node.IsScalar()) return Bad(name, expected);
    for (const auto& [word, value] : choices) {
      if (node.Scalar() == word) {
        *out = value;
        return Status::Ok();
      }
    }
    return Bad(name, expected + ", got '" + node.Scalar() + "'");
  };
}

// Applies every scalar under `node` through `fields`; nested maps become dotted names
// ("log: {segment_bytes: 1}" sets "log.segment_bytes"). A name not in `fields` is unknown.
Status ApplyFlattened(const YAML::Node& node, const std::string& prefix, const FieldMap& fields);

// Applies every key of the mapping `node` through `fields`, named "PREFIX.KEY" (or "KEY" at
// the top); the value goes to the setter whatever its type, so a nested section is a Setter
// that calls Apply again (see Section). A key not in `fields` is unknown.
Status Apply(const YAML::Node& node, const std::string& prefix, const FieldMap& fields);

// A nested mapping whose keys go through `fields`, with its own unknown-field check.
Setter Section(FieldMap fields);

// Loads `yaml` and hands its top-level mapping to `apply` (an empty document gives an empty
// mapping). Errors, from `apply` or yaml-cpp (which names the line), come back as
// InvalidArgument "SOURCE: MESSAGE".
Status ParseDocument(std::string_view yaml, std::string_view source,
                     const std::function<Status(const YAML::Node& root)>& apply);

// The whole text of a config file; NotFound "cannot read config file 'PATH'" when it cannot
// be read.
Result<std::string> ReadConfigFile(const std::string& path);

}  // namespace tern::yaml_fields
