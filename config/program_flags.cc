#include "config/program_flags.h"

#include "config/command_line.h"

namespace tern {
namespace {

// Adds a HOST:PORT option whose value is parsed and validated as it is read.
CLI::Option* AddHostPort(CLI::App& app, const std::string& flag, const std::string& help,
                         auto store) {
  return app.add_option_function<std::string>(
      flag,
      [flag, store](const std::string& text) {
        auto parsed = ParseHostPort(text);
        if (!parsed.ok()) RejectFlagValue(flag, parsed.status().message());
        store(std::move(parsed).value());
      },
      help);
}

}  // namespace

void DefineBrokerFlags(CLI::App& app, BrokerFlags& flags) {
  app.description("tern-broker: a Kafka-protocol broker with durable segment-log storage");
  app.add_option("--data-dir", flags.data_dir, "Directory for the broker's logs and state")
      ->required();
  AddHostPort(app, "--listen", "HOST:PORT on which clients connect",
              [&flags](HostPort hp) { flags.listen = std::move(hp); })
      ->required()
      ->type_name("HOST:PORT");
  AddHostPort(app, "--advertised-listener",
              "HOST:PORT that clients are told to connect to (default: --listen)",
              [&flags](HostPort hp) { flags.advertised_listener = std::move(hp); })
      ->type_name("HOST:PORT");
  app.add_option("--config", flags.config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
}

void DefineReplicatorFlags(CLI::App& app, ReplicatorFlags& flags) {
  app.description("tern-replicator: replicates Kafka topics from a source to a target cluster");
  app.add_option("--config", flags.config_file, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", flags.log_level,
                 "trace, debug, info, warn or error (debug also shows the lines of "
                 "librdkafka's `debug` setting)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

void DefineTernctlFlags(CLI::App& app, TernctlFlags& flags) {
  app.description("ternctl: operate tern-replicator over its gRPC API");
  AddHostPort(app, "--server", "HOST:PORT of the replicator's gRPC API (default 127.0.0.1:7070)",
              [&flags](HostPort hp) { flags.server = std::move(hp); })
      ->type_name("HOST:PORT");
  app.add_option("--output,-o", flags.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--token-file", flags.token_file,
                 "File holding the API's bearer token (default: $TERN_API_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-ca", flags.tls_ca,
                 "CA certificate (PEM) to verify the server with; enables TLS")
      ->check(CLI::ExistingFile);
  app.add_option("--timeout", flags.timeout_seconds, "Deadline of each call, in seconds")
      ->check(CLI::Range(0.1, 3600.0));
  app.require_subcommand(1);
}

}  // namespace tern
