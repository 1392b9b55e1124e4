// The replicator's gRPC server: tern.replicator.v1.ReplicatorService (service.h), the standard
// grpc.health.v1 health service and server reflection, on grpc.listen. TLS when the config
// names a certificate and key, plaintext otherwise; a bearer token for ReplicatorService calls
// when it names a token file.
//
// Health: "" and "tern.replicator.v1.ReplicatorService" are SERVING while the engine's probe
// reaches both clusters and the engine is not stopping, NOT_SERVING otherwise (re-evaluated
// every second by a thread of the server).
#pragma once

#include <memory>

#include "common/host_port.h"
#include "common/result.h"
#include "config/replicator_config.h"
#include "replicator/engine.h"

namespace tern::replicator::api {

class ApiServer {
 public:
  virtual ~ApiServer() = default;
};

// Serves until the returned object is destroyed; destruction ends open streams and waits at
// most about two seconds for calls in progress. `engine` must outlive the server. Fails with
// IoError naming the address when it cannot listen there (in use, or a bad certificate or key).
Result<std::unique_ptr<ApiServer>> StartApiServer(const HostPort& listen,
                                                 const GrpcSecrets& secrets, Engine& engine);

}  // namespace tern::replicator::api
