// The name patterns of the API's requests (topic_pattern, group_pattern): ECMAScript regular
// expressions matched against the whole name, as the config's filters are.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace tern::replicator::api {

class NamePattern {
 public:
  // Compiles `pattern`, the request field `field`. An empty pattern matches every name, or
  // with `required` is refused. Fails with INVALID_ARGUMENT naming the field and the pattern.
  static grpc::Status Compile(std::string_view field, const std::string& pattern,
                              bool required, NamePattern* out);

  bool Matches(const std::string& name) const;

 private:
  std::optional<std::regex> regex_;  // unset: everything matches
};

}  // namespace tern::replicator::api
