#include "replicator/api/auth.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

namespace tern::replicator::api {
namespace {

grpc::StatusCode CodeFor(const std::vector<std::pair<std::string, std::string>>& metadata,
                         std::string_view token) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  for (const auto& [key, value] : metadata) spouse.AddClientMetadata(key, value);
  return CheckBearerToken(context, token).error_code();
}

TEST(BearerTokenTest, NoTokenConfiguredLetsEveryCallIn) {
  EXPECT_EQ(CodeFor({}, ""), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor({{"authorization", "Bearer anything"}}, ""), grpc::StatusCode::OK);
}

TEST(BearerTokenTest, RightTokenLetsTheCallIn) {
  EXPECT_EQ(CodeFor({{"authorization", "Bearer s3cret"}}, "s3cret"), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor({{"authorization", "bearer s3cret"}}, "s3cret"), grpc::StatusCode::OK);
  EXPECT_EQ(CodeFor({{"authorization", "Basic x"}, {"authorization", "Bearer s3cret"}}, "s3cret"),
            grpc::StatusCode::OK);
}

TEST(BearerTokenTest, MissingOrWrongTokenIsUnauthenticated) {
  for (const auto& metadata : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"authorization", "Bearer s3cre"}},
           {{"authorization", "Bearer s3cret2"}},
           {{"authorization", "Bearer "}},
           {{"authorization", "s3cret"}},
           {{"authorization", "Basic s3cret"}},
           {{"x-token", "Bearer s3cret"}},
       }) {
    EXPECT_EQ(CodeFor(metadata, "s3cret"), grpc::StatusCode::UNAUTHENTICATED)
        << (metadata.empty() ? "none" : metadata[0].second);
  }
  grpc::ServerContext context;
  const std::string message = CheckBearerToken(context, "t").error_message();
  EXPECT_EQ(message.rfind("missing or wrong bearer token", 0), 0U) << message;
}

TEST(BearerTokenTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0", 2), "a"));
}

}  // namespace
}  // namespace tern::replicator::api
