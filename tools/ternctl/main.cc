// ternctl: the operator's command line over tern-replicator's gRPC API.
#include <iostream>

#include "config/command_line.h"
#include "config/program_flags.h"

int main(int argc, char** argv) {
  CLI::App app;
  tern::SetProgramIdentity(app, "ternctl");
  tern::TernctlFlags flags;
  tern::DefineTernctlFlags(app, flags);
  app.footer("Commands arrive with the replicator's gRPC API.");
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;
  return 0;
}
