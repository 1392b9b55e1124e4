#include "common/host_port.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(HostPortTest, ParsesNameAndPort) {
  auto r = ParseHostPort("localhost:9092");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), (HostPort{"localhost", 9092}));
  EXPECT_EQ(r.value().ToString(), "localhost:9092");
}

TEST(HostPortTest, ParsesBracketedIpv6) {
  auto r = ParseHostPort("[::1]:19092");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), (HostPort{"::1", 19092}));
  EXPECT_EQ(r.value().ToString(), "[::1]:19092");
}

struct BadCase {
  const char* text;
  const char* why;
};

class HostPortRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(HostPortRejectTest, RejectsWithReason) {
  auto r = ParseHostPort(GetParam().text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostPortRejectTest,
    ::testing::Values(BadCase{"localhost", "missing ':PORT'"},
                      BadCase{":9092", "empty host"},
                      BadCase{"host:", "empty port"},
                      BadCase{"host:90x", "not a number"},
                      BadCase{"host:0", "between 1 and 65535"},
                      BadCase{"host:65536", "between 1 and 65535"},
                      BadCase{"host:-1", "not a number"},
                      BadCase{"::1:9092", "in brackets"},
                      BadCase{"[::1:9092", "missing ']'"},
                      BadCase{"[::1]9092", "missing ':PORT'"}));

}  // namespace
}  // namespace tern
