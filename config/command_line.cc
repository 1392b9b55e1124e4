#include "config/command_line.h"

#include <string>

#include "tern/version.h"

namespace tern {
namespace {

// CLI11 messages sometimes span lines; an operator reading a log wants one.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

void SetProgramIdentity(CLI::App& app, std::string_view program) {
  app.name(std::string(program));
  app.set_version_flag("--version", std::string(program) + " " + kVersion,
                       "Print the version and exit");
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv,
                                    std::ostream& out, std::ostream& err) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << '\n';
    return 0;
  } catch (const CLI::ParseError& e) {
    err << app.get_name() << ": error: " << OneLine(e.what()) << " (see --help)\n";
    return kUsageExitCode;
  }
}

void RejectFlagValue(std::string_view flag, std::string_view why) {
  throw CLI::ValidationError(std::string(flag), std::string(why));
}

}  // namespace tern
