#include "replicator/naming.h"

#include <gtest/gtest.h>

namespace tern::replicator {
namespace {

TEST(NamingTest, TargetTopicNames) {
  TopicNaming identity(NamingPolicy::kIdentity, "us-east", "eu-west");
  TopicNaming prefix(NamingPolicy::kPrefix, "us-east", "eu-west");
  EXPECT_EQ(identity.TargetTopic("orders"), "orders");
  EXPECT_EQ(prefix.TargetTopic("orders"), "us-east.orders");
}

TEST(NamingTest, InternalTopicsAreNeverReplicated) {
  TopicNaming n(NamingPolicy::kIdentity, "us-east", "eu-west");
  for (const char* topic : {"__consumer_offsets", "__transaction_state", "heartbeats",
                            "us-east.heartbeats", "mm2-offset-syncs.eu-west.internal",
                            "us-east.checkpoints.internal", "connect-offsets-internal",
                            "orders.replica"}) {
    EXPECT_TRUE(n.IsExcluded(topic)) << topic;
  }
  EXPECT_FALSE(n.IsExcluded("orders"));
  EXPECT_FALSE(n.IsExcluded("eu-west.orders"));  // identity naming cannot tell by name
}

TEST(NamingTest, PrefixNamingStopsTopicsComingBack) {
  TopicNaming n(NamingPolicy::kPrefix, "us-east", "eu-west");
  EXPECT_TRUE(n.IsExcluded("eu-west.orders"));
  EXPECT_FALSE(n.IsExcluded("us-east-2.orders"));
  EXPECT_FALSE(n.IsExcluded("orders"));
}

TEST(NamingTest, ClusterSpecificConfigsAreNotCopied) {
  EXPECT_TRUE(IsCopiedTopicConfig("retention.ms"));
  EXPECT_TRUE(IsCopiedTopicConfig("cleanup.policy"));
  EXPECT_TRUE(IsCopiedTopicConfig("compression.type"));
  EXPECT_FALSE(IsCopiedTopicConfig("min.insync.replicas"));
  EXPECT_FALSE(IsCopiedTopicConfig("unclean.leader.election.enable"));
  EXPECT_FALSE(IsCopiedTopicConfig("message.timestamp.type"));
  EXPECT_FALSE(IsCopiedTopicConfig("leader.replication.throttled.replicas"));
}

}  // namespace
}  // namespace tern::replicator
