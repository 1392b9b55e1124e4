#include "kafka/request_header.h"

namespace tern::kafka {

bool DecodeRequestHeaderPrefix(Reader& r, RequestHeader* header) {
  if (!r.ReadInt16(&header->api_key) || !r.ReadInt16(&header->api_version) ||
      !r.ReadInt32(&header->correlation_id)) {
    return r.Where("request header");
  }
  return true;
}

bool DecodeRequestHeaderRest(Reader& r, bool flexible, RequestHeader* header) {
  if (!r.ReadNullableString(&header->client_id, /*compact=*/false)) {
    return r.Where("request header client_id");
  }
  if (!flexible) return true;
  std::uint32_t count = 0;
  if (!r.ReadUnsignedVarint(&count)) return r.Where("request header tagged fields");
  for (std::uint32_t i = 0; i < count; ++i) {
    UnknownTag tag;
    std::uint32_t size = 0;
    std::string_view data;
    if (!r.ReadUnsignedVarint(&tag.tag) || !r.ReadUnsignedVarint(&size) ||
        !r.ReadRaw(size, &data)) {
      return r.Where("request header tagged fields");
    }
    tag.data.assign(data);
    header->unknown_tags.push_back(std::move(tag));
  }
  return true;
}

void EncodeRequestHeader(Writer& w, const RequestHeader& header, bool flexible) {
  w.WriteInt16(header.api_key);
  w.WriteInt16(header.api_version);
  w.WriteInt32(header.correlation_id);
  w.WriteNullableString(header.client_id, /*compact=*/false);
  if (flexible) {
    TaggedFieldsWriter tags;
    tags.Finish(w, header.unknown_tags);
  }
}

void EncodeResponseHeader(Writer& w, std::int32_t correlation_id, bool flexible) {
  w.WriteInt32(correlation_id);
  if (flexible) w.WriteUnsignedVarint(0);
}

}  // namespace tern::kafka
