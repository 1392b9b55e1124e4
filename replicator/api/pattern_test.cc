#include "replicator/api/pattern.h"

#include <gtest/gtest.h>

namespace tern::replicator::api {
namespace {

TEST(NamePatternTest, MatchesTheWholeName) {
  NamePattern pattern;
  ASSERT_TRUE(NamePattern::Compile("topic_pattern", "orders|pay.*", false, &pattern).ok());
  EXPECT_TRUE(pattern.Matches("orders"));
  EXPECT_TRUE(pattern.Matches("payments"));
  EXPECT_FALSE(pattern.Matches("orders2"));
  EXPECT_FALSE(pattern.Matches("my-payments"));
}

TEST(NamePatternTest, EmptyMatchesAllUnlessRequired) {
  NamePattern pattern;
  ASSERT_TRUE(NamePattern::Compile("group_pattern", "", false, &pattern).ok());
  EXPECT_TRUE(pattern.Matches("anything"));
  const grpc::Status st = NamePattern::Compile("topic_pattern", "", true, &pattern);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("topic_pattern is required", 0), 0U);
}

TEST(NamePatternTest, BadRegexIsNamed) {
  NamePattern pattern;
  const grpc::Status st = NamePattern::Compile("topic_pattern", "orders(", false, &pattern);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("topic_pattern: bad regular expression 'orders(': ", 0), 0U);
}

}  // namespace
}  // namespace tern::replicator::api
