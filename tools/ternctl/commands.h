// ternctl's commands, one file each. Every command prints its result to `out` as a table or,
// with --output json, as JSON, and returns the process exit code: 0, or 1 after printing one
// "ternctl: error: ..." line to `err`.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "config/program_flags.h"
#include "tools/ternctl/client.h"

namespace tern::ternctl {

struct Io {
  const TernctlFlags& flags;
  std::ostream& out;
  std::ostream& err;
  bool json() const { return flags.output == "json"; }
  int Fail(const std::string& message) const;
};

// A command: adds its subcommand and options to the app, and runs when it was chosen.
using CommandRun = std::function<int(ApiClient&, const Io&)>;
struct Command {
  CLI::App* app;
  CommandRun run;
};

Command AddStatus(CLI::App& app);
Command AddPartitions(CLI::App& app);
Command AddWatch(CLI::App& app);
Command AddTranslate(CLI::App& app);
Command AddGroups(CLI::App& app);
Command AddPause(CLI::App& app);
Command AddResume(CLI::App& app);

}  // namespace tern::ternctl
