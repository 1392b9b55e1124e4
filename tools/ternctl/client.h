// The connection to tern-replicator's gRPC API: channel (plaintext or TLS), the bearer token
// on every call, call deadlines, and errors an operator can act on.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "config/program_flags.h"
#include "tern/replicator/v1/replicator.grpc.pb.h"

namespace tern::ternctl {

namespace api = ::tern::replicator::v1;

class ApiClient {
 public:
  // Reads the token (--token-file, else $TERN_API_TOKEN) and the CA file; connects lazily.
  static Result<ApiClient> Create(const TernctlFlags& flags);

  api::ReplicatorService::Stub& stub() { return *stub_; }
  // Sets the token and, unless `streaming`, the call deadline.
  void Prepare(grpc::ClientContext& context, bool streaming = false) const;
  // One line saying what went wrong and what to do, e.g. for UNAVAILABLE or UNAUTHENTICATED.
  std::string Describe(const grpc::Status& status) const;

 private:
  std::string server_;
  std::string token_;
  double timeout_seconds_ = 10;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<api::ReplicatorService::Stub> stub_;
};

}  // namespace tern::ternctl
