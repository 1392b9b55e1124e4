#include "config/program_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <vector>

#include "config/command_line.h"

namespace tern {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Parses `args` (without the program name) with flags defined by `define`.
struct Parsed {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

template <typename Flags, typename Define>
Parsed Parse(const char* program, Define define, Flags& flags,
             std::initializer_list<const char*> args) {
  CLI::App app;
  SetProgramIdentity(app, program);
  define(app, flags);
  std::vector<const char*> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out;
  std::ostringstream err;
  Parsed p;
  p.exit_code = ParseCommandLine(app, static_cast<int>(argv.size()), argv.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

Parsed ParseBroker(BrokerFlags& flags, std::initializer_list<const char*> args) {
  return Parse("tern-broker", DefineBrokerFlags, flags, args);
}

// One line, ending in a newline, starting with the program's name.
void ExpectOneLineError(const Parsed& p, const std::string& program) {
  ASSERT_TRUE(p.exit_code.has_value());
  EXPECT_EQ(*p.exit_code, kUsageExitCode);
  EXPECT_THAT(p.err, StartsWith(program + ": error: "));
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  EXPECT_EQ(p.err.back(), '\n');
  EXPECT_TRUE(p.out.empty());
}

TEST(BrokerFlagsTest, ParsesAllFlags) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--data-dir", "/tmp/d", "--listen", "127.0.0.1:19092",
                               "--advertised-listener", "broker.example:9092"});
  EXPECT_FALSE(p.exit_code.has_value()) << p.err;
  EXPECT_EQ(flags.data_dir, "/tmp/d");
  EXPECT_EQ(flags.listen, (HostPort{"127.0.0.1", 19092}));
  ASSERT_TRUE(flags.advertised_listener.has_value());
  EXPECT_EQ(*flags.advertised_listener, (HostPort{"broker.example", 9092}));
  EXPECT_TRUE(flags.config_file.empty());
}

TEST(BrokerFlagsTest, UnknownFlagIsOneLineError) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--data-dir", "d", "--listen", "h:1", "--bogus"});
  ExpectOneLineError(p, "tern-broker");
  EXPECT_THAT(p.err, HasSubstr("--bogus"));
}

TEST(BrokerFlagsTest, MissingRequiredOptionIsNamed) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--listen", "h:1"});
  ExpectOneLineError(p, "tern-broker");
  EXPECT_THAT(p.err, HasSubstr("--data-dir"));
}

TEST(BrokerFlagsTest, BadListenAddressNamesFlagAndReason) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--data-dir", "d", "--listen", "localhost:99999"});
  ExpectOneLineError(p, "tern-broker");
  EXPECT_THAT(p.err, HasSubstr("--listen"));
  EXPECT_THAT(p.err, HasSubstr("between 1 and 65535"));
}

TEST(BrokerFlagsTest, MissingConfigFileIsRefused) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--data-dir", "d", "--listen", "h:1", "--config",
                               "/nonexistent/tern.yaml"});
  ExpectOneLineError(p, "tern-broker");
  EXPECT_THAT(p.err, HasSubstr("/nonexistent/tern.yaml"));
}

TEST(BrokerFlagsTest, HelpPrintsUsageAndExitsZero) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--help"});
  ASSERT_TRUE(p.exit_code.has_value());
  EXPECT_EQ(*p.exit_code, 0);
  EXPECT_THAT(p.out, HasSubstr("--data-dir"));
  EXPECT_THAT(p.out, HasSubstr("--listen"));
  EXPECT_TRUE(p.err.empty());
}

TEST(BrokerFlagsTest, VersionPrintsProgramAndVersion) {
  BrokerFlags flags;
  auto p = ParseBroker(flags, {"--version"});
  ASSERT_TRUE(p.exit_code.has_value());
  EXPECT_EQ(*p.exit_code, 0);
  EXPECT_THAT(p.out, StartsWith("tern-broker "));
}

TEST(ReplicatorFlagsTest, ConfigIsRequired) {
  ReplicatorFlags flags;
  auto p = Parse("tern-replicator", DefineReplicatorFlags, flags, {});
  ExpectOneLineError(p, "tern-replicator");
  EXPECT_THAT(p.err, HasSubstr("--config"));
}

TEST(ReplicatorFlagsTest, LogLevelIsCheckedAndDefaultsToInfo) {
  ReplicatorFlags flags;
  auto p = Parse("tern-replicator", DefineReplicatorFlags, flags,
                 {"--config", "/dev/null", "--log-level", "loud"});
  ExpectOneLineError(p, "tern-replicator");
  EXPECT_THAT(p.err, HasSubstr("loud"));
  EXPECT_EQ(flags.log_level, "info");
  ReplicatorFlags debug;
  auto q = Parse("tern-replicator", DefineReplicatorFlags, debug,
                 {"--config", "/dev/null", "--log-level", "debug"});
  EXPECT_FALSE(q.exit_code.has_value()) << q.err;
  EXPECT_EQ(debug.log_level, "debug");
}

TEST(TernctlFlagsTest, DefaultsApplyAndBadOutputIsRefused) {
  TernctlFlags flags;
  auto p = Parse("ternctl", DefineTernctlFlags, flags, {"--output", "xml"});
  ExpectOneLineError(p, "ternctl");
  EXPECT_THAT(p.err, HasSubstr("xml"));
  EXPECT_EQ(flags.server, (HostPort{"127.0.0.1", 7070}));
}

TEST(TernctlFlagsTest, CommandIsRequired) {
  TernctlFlags flags;
  auto p = Parse("ternctl", DefineTernctlFlags, flags, {"--server", "127.0.0.1:7071"});
  ExpectOneLineError(p, "ternctl");
  EXPECT_EQ(flags.server, (HostPort{"127.0.0.1", 7071}));
}

}  // namespace
}  // namespace tern
