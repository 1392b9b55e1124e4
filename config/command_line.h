// Runs CLI11 over a program's command line and turns every outcome into a decision: go on, or
// exit now with a code. --help and --version print to `out` and exit 0. Any mistake — an
// unknown flag, a missing required option, a value that fails validation — prints exactly one
// line to `err`, "<program>: error: <what is wrong> (see --help)", and exits 2.
// Flags are defined by the caller on `app`; option callbacks may throw CLI::ValidationError
// to reject a value with a message.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string_view>

namespace tern {

inline constexpr int kUsageExitCode = 2;

// Names `app` after the program and adds --version, which prints "<program> <version>".
void SetProgramIdentity(CLI::App& app, std::string_view program);

// Returns std::nullopt when the program should run, or the exit code to return now.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv,
                                    std::ostream& out, std::ostream& err);

// Turns a value-parsing failure into the CLI11 error that ParseCommandLine reports.
[[noreturn]] void RejectFlagValue(std::string_view flag, std::string_view why);

}  // namespace tern
