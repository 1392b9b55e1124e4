#include "replicator/api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "grpc/health/v1/health.pb.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {
namespace {

constexpr auto kHealthInterval = std::chrono::seconds(1);
// How long a shutdown waits for calls in progress before cancelling them.
constexpr auto kShutdownGrace = std::chrono::seconds(2);

// Why `side` keeps the replicator from serving, or "" when it does not.
std::string ClusterProblem(const EngineStats& stats, ClusterSide side) {
  const ClusterHealth health = stats.Cluster(side);
  if (health.reachable) return "";
  const std::string name = side == ClusterSide::kSource ? "source" : "target";
  if (health.last_contact_ms == 0 && health.last_error.time_ms == 0) {
    return "the " + name + " cluster has not been reached yet";
  }
  return "the " + name + " cluster is unreachable";
}

// Why the replicator is not serving, or "" when it is.
std::string NotServingReason(const EngineStats& stats) {
  if (stats.stopping.load()) return "stopping";
  if (auto problem = ClusterProblem(stats, ClusterSide::kSource); !problem.empty()) {
    return problem;
  }
  return ClusterProblem(stats, ClusterSide::kTarget);
}

class GrpcApiServer final : public ApiServer {
 public:
  GrpcApiServer(Engine& engine, std::unique_ptr<ReplicatorApi> service,
                std::unique_ptr<grpc::Server> server)
      : engine_(engine), service_(std::move(service)), server_(std::move(server)) {
    health_thread_ = std::thread([this] { HealthLoop(); });
  }

  ~GrpcApiServer() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    health_thread_.join();
    server_->GetHealthCheckService()->Shutdown();  // NOT_SERVING from now on
    service_->Close();
    server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    server_->Wait();
  }

 private:
  void HealthLoop() {
    grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
    const std::string service_name = v1::ReplicatorService::service_full_name();
    std::string last_reason = "(not yet evaluated)";
    std::unique_lock lock(mu_);
    while (!stop_) {
      const std::string reason = NotServingReason(engine_.stats());
      health->SetServingStatus("", reason.empty());
      health->SetServingStatus(service_name, reason.empty());
      if (reason != last_reason) {
        spdlog::info("gRPC health: {}", reason.empty() ? "SERVING" : "NOT_SERVING: " + reason);
        last_reason = reason;
      }
      wake_.wait_for(lock, kHealthInterval, [this] { return stop_; });
    }
  }

  Engine& engine_;
  // Declared before server_: the service outlives the server that calls it.
  std::unique_ptr<ReplicatorApi> service_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread health_thread_;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> StartApiServer(const HostPort& listen,
                                                 const GrpcSecrets& secrets, Engine& engine) {
  const bool tls = !secrets.cert_pem.empty();
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls) {
    grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back({secrets.key_pem, secrets.cert_pem});
    credentials = grpc::SslServerCredentials(options);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }

  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's built-in health service carries no descriptors; referencing ours links them in, so
  // that reflection can describe grpc.health.v1.Health too.
  ::grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto service = std::make_unique<ReplicatorApi>(engine, secrets.token);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen.ToString(), credentials, &bound_port);
  // Without this gRPC sets SO_REUSEPORT, and a second replicator on the same port would share
  // it silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    return Status::IoError("cannot serve the gRPC API on " + listen.ToString() +
                           (tls ? ": the address is in use or not local, or grpc.tls.cert_file "
                                  "and grpc.tls.key_file are not a matching PEM certificate "
                                  "and key"
                                : ": the address is in use or not local"));
  }
  return std::unique_ptr<ApiServer>(
      std::make_unique<GrpcApiServer>(engine, std::move(service), std::move(server)));
}

}  // namespace tern::replicator::api
