// Bearer-token authorization of ReplicatorService calls (grpc.token_file). Health checks and
// server reflection are other services and never ask for it: probes and grpcurl's discovery
// need no secret.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string_view>

namespace tern::replicator::api {

// OK when `token` is empty (none configured) or the call's metadata carries
// "authorization: Bearer <token>" (the scheme in any case); UNAUTHENTICATED "missing or wrong
// bearer token" otherwise. The comparison takes the same time wherever the first difference
// is, so timing tells an attacker nothing about the token's content.
grpc::Status CheckBearerToken(const grpc::ServerContext& context, std::string_view token);

// Whether `a` and `b` are equal, in time that depends on their lengths only.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tern::replicator::api
