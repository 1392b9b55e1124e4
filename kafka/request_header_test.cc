#include "kafka/request_header.h"

#include <gtest/gtest.h>

namespace tern::kafka {
namespace {

TEST(RequestHeaderTest, FlexibleHeaderRoundTripsWithClassicClientId) {
  RequestHeader h;
  h.api_key = 3;
  h.api_version = 12;
  h.correlation_id = 77;
  h.client_id = "rdkafka";
  h.unknown_tags.push_back({9, "zz"});
  Writer w;
  EncodeRequestHeader(w, h, /*flexible=*/true);
  // client_id keeps its int16 length even in a flexible header.
  EXPECT_EQ(w.buffer().substr(8, 2), std::string("\x00\x07", 2));

  Reader r(w.buffer());
  RequestHeader out;
  ASSERT_TRUE(DecodeRequestHeaderPrefix(r, &out));
  ASSERT_TRUE(DecodeRequestHeaderRest(r, true, &out));
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(out.api_key, 3);
  EXPECT_EQ(out.api_version, 12);
  EXPECT_EQ(out.correlation_id, 77);
  EXPECT_EQ(out.client_id, "rdkafka");
  ASSERT_EQ(out.unknown_tags.size(), 1u);
  EXPECT_EQ(out.unknown_tags[0].data, "zz");
}

TEST(RequestHeaderTest, NullClientIdIsAccepted) {
  Writer w;
  RequestHeader h;
  EncodeRequestHeader(w, h, false);
  Reader r(w.buffer());
  RequestHeader out;
  out.client_id = "x";
  ASSERT_TRUE(DecodeRequestHeaderPrefix(r, &out) && DecodeRequestHeaderRest(r, false, &out));
  EXPECT_FALSE(out.client_id.has_value());
}

TEST(RequestHeaderTest, EveryTruncationFailsCleanly) {
  RequestHeader h;
  h.client_id = "client";
  Writer w;
  EncodeRequestHeader(w, h, true);
  const std::string bytes = w.buffer();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Reader r(std::string_view(bytes).substr(0, n));
    RequestHeader out;
    EXPECT_FALSE(DecodeRequestHeaderPrefix(r, &out) && DecodeRequestHeaderRest(r, true, &out))
        << "prefix of " << n << " bytes";
    EXPECT_FALSE(r.status().ok());
  }
}

TEST(RequestHeaderTest, ResponseHeaderVersions) {
  Writer v0;
  EncodeResponseHeader(v0, 5, false);
  EXPECT_EQ(v0.buffer(), std::string("\x00\x00\x00\x05", 4));
  Writer v1;
  EncodeResponseHeader(v1, 5, true);
  EXPECT_EQ(v1.buffer(), std::string("\x00\x00\x00\x05\x00", 5));
}

}  // namespace
}  // namespace tern::kafka
