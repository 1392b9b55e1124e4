// The one table of the Kafka APIs tern-broker serves: key, name, version range, first flexible
// version, handler. ApiVersions answers from this table alone, and the connection uses it to
// find a request's header version and handler.
#pragma once

#include <cstdint>
#include <span>

#include "broker/handlers/handler.h"

namespace tern::broker {

struct ApiEntry {
  std::int16_t key;
  const char* name;
  std::int16_t min_version;             // the oldest version served
  std::int16_t advertised_min_version;  // the oldest version ApiVersions lists
  std::int16_t max_version;
  std::int16_t first_flexible_version;  // 0x7fff when never flexible
  Handler handler;
};

std::span<const ApiEntry> ApiTable();

// The entry for `api_key`, or nullptr when tern-broker does not serve that API.
const ApiEntry* FindApi(std::int16_t api_key);

}  // namespace tern::broker
