// tern-replicator: reads its YAML configuration and replicates from the source cluster to the
// target cluster until SIGINT or SIGTERM, then commits what it copied and exits 0.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "checkpoint/checkpoint_store.h"
#include "config/command_line.h"
#include "config/program_flags.h"
#include "config/replicator_config.h"
#include "replicator/api/server.h"
#include "replicator/engine.h"
#include "replicator/kafka_client.h"
#include "replicator/prometheus_metrics.h"
#include "tern/version.h"

namespace {

constexpr const char* kProgram = "tern-replicator";
constexpr int kConfigError = 2;   // the exit code of a bad command line or configuration file
constexpr int kStopSeconds = 30;  // a clean stop takes at most this long

int Fail(const std::string& what, int exit_code = 1) {
  std::cerr << kProgram << ": error: " << what << '\n';
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait below, never by another thread: blocked before anything
  // else, so that a SIGTERM during start-up waits for it instead of killing the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app;
  tern::SetProgramIdentity(app, kProgram);
  tern::ReplicatorFlags flags;
  tern::DefineReplicatorFlags(app, flags);
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;
  spdlog::set_level(spdlog::level::from_str(flags.log_level));

  const auto loaded = tern::LoadReplicatorConfig(flags.config_file);
  if (!loaded.ok()) return Fail(loaded.status().message(), kConfigError);
  const tern::ReplicatorConfig& config = loaded.value();
  // Kafka client settings are checked by librdkafka itself before anything starts.
  for (const auto* side : {&config.source, &config.target}) {
    const std::string where = flags.config_file + ": " +
                              (side == &config.source ? "source" : "target");
    if (auto st = tern::replicator::CheckSettings(where, side->client); !st.ok()) {
      return Fail(st.message(), kConfigError);
    }
  }
  tern::GrpcSecrets grpc_secrets;
  if (config.grpc_listen) {
    auto secrets = tern::ReadGrpcSecrets(config);
    if (!secrets.ok()) {
      return Fail(flags.config_file + ": " + secrets.status().message(), kConfigError);
    }
    grpc_secrets = std::move(secrets).value();
  }

  auto store = tern::OpenRocksDbCheckpointStore(config.state_dir);
  if (!store.ok()) return Fail(store.status().message());

  spdlog::info("{} {}: replicating {} -> {} ({}), state in {}", kProgram, tern::kVersion,
               config.source.alias, config.target.alias,
               config.delivery == tern::DeliveryMode::kExactlyOnce ? "exactly-once"
                                                                   : "at-least-once",
               config.state_dir);
  tern::replicator::Engine engine(config, std::move(store).value());
  std::unique_ptr<tern::replicator::MetricsServer> metrics;
  if (config.metrics_listen) {
    const tern::replicator::MetricsOptions options{config.metrics_partition_lag,
                                                   config.metrics_partition_lag_limit};
    auto server =
        tern::replicator::StartMetricsServer(*config.metrics_listen, engine.stats(), options);
    if (!server.ok()) return Fail(server.status().message());
    metrics = std::move(server).value();
    spdlog::info("metrics on http://{}/metrics", config.metrics_listen->ToString());
  }
  // Listening before the engine starts: a second instance with the same config fails here,
  // before its transactional producer could fence the running one.
  std::unique_ptr<tern::replicator::api::ApiServer> api;
  if (config.grpc_listen) {
    auto server = tern::replicator::api::StartApiServer(*config.grpc_listen, grpc_secrets, engine);
    if (!server.ok()) return Fail(server.status().message());
    api = std::move(server).value();
    spdlog::info("gRPC API on {}{}{}", config.grpc_listen->ToString(),
                 grpc_secrets.cert_pem.empty() ? "" : " (TLS)",
                 grpc_secrets.token.empty() ? "" : " (bearer token required)");
  }
  engine.Start();
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: committing and stopping", signal);
  // librdkafka can block closing clients whose cluster is gone. Progress is durable at every
  // commit, so leaving without the last one loses nothing; a second signal or the deadline
  // ends the process.
  std::thread watchdog([&signals] {
    struct timespec limit = {kStopSeconds, 0};
    int again = sigtimedwait(&signals, nullptr, &limit);
    spdlog::warn("{}; exiting without a clean stop (progress is as of the last commit)",
                 again > 0 ? "second signal" : "stop took too long");
    spdlog::default_logger()->flush();
    std::_Exit(again > 0 ? 130 : 1);
  });
  watchdog.detach();
  api.reset();  // ends WatchProgress streams; health turns NOT_SERVING
  engine.Stop();
  return 0;
}
