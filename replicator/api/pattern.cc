#include "replicator/api/pattern.h"

namespace tern::replicator::api {

grpc::Status NamePattern::Compile(std::string_view field, const std::string& pattern,
                                  bool required, NamePattern* out) {
  out->regex_.reset();
  if (pattern.empty()) {
    if (!required) return grpc::Status::OK;
    return {grpc::StatusCode::INVALID_ARGUMENT,
            std::string(field) + " is required (a regular expression; '.*' matches all)"};
  }
  try {
    out->regex_.emplace(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return {grpc::StatusCode::INVALID_ARGUMENT, std::string(field) +
                                                    ": bad regular expression '" + pattern +
                                                    "': " + e.what()};
  }
  return grpc::Status::OK;
}

bool NamePattern::Matches(const std::string& name) const {
  return !regex_ || std::regex_match(name, *regex_);
}

}  // namespace tern::replicator::api
