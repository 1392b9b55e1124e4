// The command-line flags of Tern's programs, defined on a CLI11 app and parsed into plain
// structs. Values are validated while parsing: a bad HOST:PORT is refused with a message that
// names the flag. What the YAML config files hold lives beside this, in config/.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/host_port.h"

namespace tern {

// tern-broker --data-dir DIR --listen HOST:PORT [--advertised-listener HOST:PORT] [--config FILE]
struct BrokerFlags {
  std::string data_dir;                        // required; created when missing
  HostPort listen{"", 0};                      // required; where clients connect
  std::optional<HostPort> advertised_listener;  // what Metadata tells clients; default: listen
  std::string config_file;                     // optional YAML file; empty for none
};
void DefineBrokerFlags(CLI::App& app, BrokerFlags& flags);

// tern-replicator --config FILE
struct ReplicatorFlags {
  std::string config_file;         // required; must exist
  std::string log_level = "info";  // trace, debug, info, warn or error
};
void DefineReplicatorFlags(CLI::App& app, ReplicatorFlags& flags);

// ternctl [--server HOST:PORT] [--output table|json] [--token-file FILE] [--tls-ca FILE]
//         [--timeout SECONDS] COMMAND ...
struct TernctlFlags {
  HostPort server{"127.0.0.1", 7070};  // the replicator's gRPC address
  std::string output = "table";       // "table" for people, "json" for scripts
  std::string token_file;             // bearer token for the API; default: $TERN_API_TOKEN
  std::string tls_ca;                 // CA certificate (PEM): use TLS and verify the server
  double timeout_seconds = 10;        // deadline of each call (not of watch's stream)
};
void DefineTernctlFlags(CLI::App& app, TernctlFlags& flags);

}  // namespace tern
