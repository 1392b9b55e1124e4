// tern-replicator: reads its YAML configuration and replicates from the source cluster to the
// target cluster.
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "config/command_line.h"
#include "config/program_flags.h"

namespace {

constexpr const char* kProgram = "tern-replicator";

int Fail(const std::string& what) {
  std::cerr << kProgram << ": error: " << what << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  tern::SetProgramIdentity(app, kProgram);
  tern::ReplicatorFlags flags;
  tern::DefineReplicatorFlags(app, flags);
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;

  try {
    const YAML::Node config = YAML::LoadFile(flags.config_file);
    if (!config.IsMap()) return Fail(flags.config_file + ": the top level must be a mapping");
  } catch (const YAML::Exception& e) {
    return Fail(flags.config_file + ": " + e.what());
  }
  return Fail("the replication engine is not part of this build yet");
}
