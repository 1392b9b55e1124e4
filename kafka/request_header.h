// Request and response headers. A request frame is: int32 size, then the header, then the
// body. Header v1: api_key i16, api_version i16, correlation_id i32, client_id nullable
// string (classic, never compact). Header v2 (flexible request versions) adds tagged fields.
// Response header v0 is correlation_id i32; v1 adds tagged fields. ApiVersions responses
// always use v0 so that a client of any age can read them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kafka/wire.h"

namespace tern::kafka {

struct RequestHeader {
  std::int16_t api_key = 0;
  std::int16_t api_version = 0;
  std::int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  UnknownTags unknown_tags;
};

// Reads the fixed part that every header version shares (api_key, api_version,
// correlation_id): enough to find the API and so the header version.
bool DecodeRequestHeaderPrefix(Reader& r, RequestHeader* header);

// Reads the rest: client_id, and tagged fields when `flexible`.
bool DecodeRequestHeaderRest(Reader& r, bool flexible, RequestHeader* header);

void EncodeRequestHeader(Writer& w, const RequestHeader& header, bool flexible);

void EncodeResponseHeader(Writer& w, std::int32_t correlation_id, bool flexible);

}  // namespace tern::kafka
