// ternctl: the operator's command line over tern-replicator's gRPC API.
#include <iostream>
#include <vector>

#include "config/command_line.h"
#include "config/program_flags.h"
#include "tools/ternctl/commands.h"

namespace tern::ternctl {

int Io::Fail(const std::string& message) const {
  err << "ternctl: error: " << message << '\n';
  return 1;
}

}  // namespace tern::ternctl

int main(int argc, char** argv) {
  using namespace tern::ternctl;
  CLI::App app;
  tern::SetProgramIdentity(app, "ternctl");
  tern::TernctlFlags flags;
  tern::DefineTernctlFlags(app, flags);
  const std::vector<Command> commands = {AddStatus(app), AddPartitions(app), AddWatch(app),
                                         AddTranslate(app), AddGroups(app),   AddPause(app),
                                         AddResume(app)};
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;
  const Io io{flags, std::cout, std::cerr};
  auto client = ApiClient::Create(flags);
  if (!client.ok()) return io.Fail(client.status().message());
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run(client.value(), io);
  }
  return io.Fail("no command given (see --help)");
}
