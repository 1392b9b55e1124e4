#include "replicator/api/auth.h"

#include <algorithm>
#include <cctype>

#include "replicator/api/service.h"

namespace tern::replicator::api {
namespace {

constexpr std::string_view kScheme = "bearer ";

bool StartsWithScheme(std::string_view value) {
  if (value.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  }
  return true;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

grpc::Status CheckBearerToken(const grpc::ServerContext& context, std::string_view token) {
  if (token.empty()) return grpc::Status::OK;
  bool granted = false;
  const auto [first, last] = context.client_metadata().equal_range("authorization");
  for (auto it = first; it != last; ++it) {
    const std::string_view value(it->second.data(), it->second.size());
    if (StartsWithScheme(value) &&
        ConstantTimeEquals(value.substr(kScheme.size()), token)) {
      granted = true;
    }
  }
  if (granted) return grpc::Status::OK;
  return {grpc::StatusCode::UNAUTHENTICATED,
          "missing or wrong bearer token: calls need the metadata 'authorization: Bearer "
          "<token>' with the token of grpc.token_file"};
}

grpc::Status ReplicatorApi::Authorize(const grpc::ServerContext& context) const {
  return CheckBearerToken(context, token_);
}

}  // namespace tern::replicator::api
