// HostPort: a network endpoint written as "host:port", the way Kafka writes listeners and
// bootstrap servers. IPv6 literals go in brackets: "[::1]:9092". Parsing is pure: no name
// resolution happens here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern {

struct HostPort {
  std::string host;    // a name, an IPv4 literal, or an IPv6 literal without brackets
  std::uint16_t port;  // 1..65535

  // "host:port", with brackets around an IPv6 literal.
  std::string ToString() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses "host:port". Fails with InvalidArgument naming what is wrong: a missing port, a port
// that is not a number in 1..65535, an empty host, an unclosed bracket.
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace tern
