#include "common/failpoint.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace tern {
namespace {

std::vector<std::string> ArmedFromEnvironment() {
  std::vector<std::string> armed;
  const char* env = std::getenv("TERN_FAILPOINTS");
  if (env == nullptr) return armed;
  std::string_view rest(env);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    if (!name.empty()) armed.emplace_back(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return armed;
}

}  // namespace

bool FailpointArmed(std::string_view name) {
  static const std::vector<std::string> armed = ArmedFromEnvironment();
  for (const auto& a : armed) {
    if (a == name) return true;
  }
  return false;
}

void DieAtFailpoint(std::string_view name) {
  if (!FailpointArmed(name)) return;
  spdlog::critical("failpoint {}: ending the process", name);
  spdlog::default_logger()->flush();
  std::_Exit(86);
}

}  // namespace tern
