// Declarations of the handlers, one per Kafka API, each defined in its own file named after the
// API (api_versions.cc, metadata.cc, produce.cc, ...). The API table lists them.
#pragma once

#include "broker/handlers/handler.h"
#include "kafka/error_code.h"
#include "kafka/messages/add_offsets_to_txn.h"
#include "kafka/messages/add_partitions_to_txn.h"
#include "kafka/messages/alter_configs.h"
#include "kafka/messages/api_versions.h"
#include "kafka/messages/consumer_group_describe.h"
#include "kafka/messages/consumer_group_heartbeat.h"
#include "kafka/messages/create_partitions.h"
#include "kafka/messages/create_topics.h"
#include "kafka/messages/delete_groups.h"
#include "kafka/messages/delete_records.h"
#include "kafka/messages/delete_topics.h"
#include "kafka/messages/describe_cluster.h"
#include "kafka/messages/describe_configs.h"
#include "kafka/messages/describe_groups.h"
#include "kafka/messages/describe_producers.h"
#include "kafka/messages/describe_topic_partitions.h"
#include "kafka/messages/describe_transactions.h"
#include "kafka/messages/end_txn.h"
#include "kafka/messages/fetch.h"
#include "kafka/messages/find_coordinator.h"
#include "kafka/messages/heartbeat.h"
#include "kafka/messages/incremental_alter_configs.h"
#include "kafka/messages/init_producer_id.h"
#include "kafka/messages/join_group.h"
#include "kafka/messages/leave_group.h"
#include "kafka/messages/list_groups.h"
#include "kafka/messages/list_offsets.h"
#include "kafka/messages/list_transactions.h"
#include "kafka/messages/metadata.h"
#include "kafka/messages/offset_commit.h"
#include "kafka/messages/offset_delete.h"
#include "kafka/messages/offset_fetch.h"
#include "kafka/messages/produce.h"
#include "kafka/messages/sync_group.h"
#include "kafka/messages/txn_offset_commit.h"

namespace tern::broker {

#define TERN_HANDLER(Name)                                                               \
  asio::awaitable<Result<Reply>> Handle##Name(RequestContext& ctx, kafka::Reader& body, \
                                              kafka::Writer& out)

TERN_HANDLER(ApiVersions);
TERN_HANDLER(ConsumerGroupHeartbeat);
TERN_HANDLER(ConsumerGroupDescribe);
TERN_HANDLER(Metadata);
TERN_HANDLER(Produce);
TERN_HANDLER(Fetch);
TERN_HANDLER(ListOffsets);
TERN_HANDLER(CreateTopics);
TERN_HANDLER(DeleteTopics);
TERN_HANDLER(FindCoordinator);
TERN_HANDLER(DescribeConfigs);
TERN_HANDLER(AlterConfigs);
TERN_HANDLER(IncrementalAlterConfigs);
TERN_HANDLER(CreatePartitions);
TERN_HANDLER(DeleteRecords);
TERN_HANDLER(DescribeCluster);
TERN_HANDLER(DescribeTopicPartitions);
TERN_HANDLER(InitProducerId);
TERN_HANDLER(AddPartitionsToTxn);
TERN_HANDLER(AddOffsetsToTxn);
TERN_HANDLER(EndTxn);
TERN_HANDLER(TxnOffsetCommit);
TERN_HANDLER(DescribeProducers);
TERN_HANDLER(DescribeTransactions);
TERN_HANDLER(ListTransactions);
TERN_HANDLER(OffsetCommit);
TERN_HANDLER(OffsetFetch);
TERN_HANDLER(OffsetDelete);
TERN_HANDLER(ListGroups);
TERN_HANDLER(DescribeGroups);
TERN_HANDLER(DeleteGroups);
TERN_HANDLER(JoinGroup);
TERN_HANDLER(SyncGroup);
TERN_HANDLER(Heartbeat);
TERN_HANDLER(LeaveGroup);

#undef TERN_HANDLER

// Kafka reports a member's host as Java prints an address: "/127.0.0.1".
inline std::string ClientHost(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return "/" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

}  // namespace tern::broker
