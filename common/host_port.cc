#include "common/host_port.h"

#include <charconv>

namespace tern {
namespace {

Status Invalid(std::string_view text, std::string_view why) {
  std::string msg = "'";
  msg += text;
  msg += "' is not HOST:PORT: ";
  msg += why;
  return Status::InvalidArgument(msg);
}

}  // namespace

std::string HostPort::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Invalid(text, "missing ']' after IPv6 address");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Invalid(text, "missing ':PORT'");
    port_text = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Invalid(text, "missing ':PORT'");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return Invalid(text, "an IPv6 address must be written in brackets, e.g. [::1]:9092");
    }
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) return Invalid(text, "empty host");
  if (port_text.empty()) return Invalid(text, "empty port");

  unsigned long port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (ec != std::errc() || ptr != end) return Invalid(text, "port is not a number");
  if (port == 0 || port > 65535) return Invalid(text, "port must be between 1 and 65535");
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace tern
