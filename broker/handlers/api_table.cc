#include "broker/handlers/api_table.h"

#include <array>

#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

// One row per API: the versions served are the schema's whole range.
template <typename Request>
constexpr ApiEntry Row(const char* name, Handler handler,
                       std::int16_t advertised_min = Request::kMinVersion) {
  return ApiEntry{Request::kApiKey,       name,
                  Request::kMinVersion,   advertised_min,
                  Request::kMaxVersion,   Request::kFirstFlexibleVersion,
                  handler};
}

constexpr auto kTable = std::to_array<ApiEntry>({
    // Produce is listed from v0 as Kafka 4 lists it, though v0-2 are not served: librdkafka up
    // to 2.11 enables gzip, snappy and lz4 only when the range includes v0.
    Row<kafka::ProduceRequest>("Produce", HandleProduce, 0),
    Row<kafka::FetchRequest>("Fetch", HandleFetch),
    Row<kafka::ListOffsetsRequest>("ListOffsets", HandleListOffsets),
    Row<kafka::MetadataRequest>("Metadata", HandleMetadata),
    Row<kafka::OffsetCommitRequest>("OffsetCommit", HandleOffsetCommit),
    Row<kafka::OffsetFetchRequest>("OffsetFetch", HandleOffsetFetch),
    Row<kafka::ApiVersionsRequest>("ApiVersions", HandleApiVersions),
    Row<kafka::CreateTopicsRequest>("CreateTopics", HandleCreateTopics),
    Row<kafka::DeleteTopicsRequest>("DeleteTopics", HandleDeleteTopics),
    Row<kafka::FindCoordinatorRequest>("FindCoordinator", HandleFindCoordinator),
    Row<kafka::JoinGroupRequest>("JoinGroup", HandleJoinGroup),
    Row<kafka::HeartbeatRequest>("Heartbeat", HandleHeartbeat),
    Row<kafka::LeaveGroupRequest>("LeaveGroup", HandleLeaveGroup),
    Row<kafka::SyncGroupRequest>("SyncGroup", HandleSyncGroup),
    Row<kafka::DescribeGroupsRequest>("DescribeGroups", HandleDescribeGroups),
    Row<kafka::ListGroupsRequest>("ListGroups", HandleListGroups),
    Row<kafka::DeleteRecordsRequest>("DeleteRecords", HandleDeleteRecords),
    Row<kafka::InitProducerIdRequest>("InitProducerId", HandleInitProducerId),
    Row<kafka::AddPartitionsToTxnRequest>("AddPartitionsToTxn", HandleAddPartitionsToTxn),
    Row<kafka::AddOffsetsToTxnRequest>("AddOffsetsToTxn", HandleAddOffsetsToTxn),
    Row<kafka::EndTxnRequest>("EndTxn", HandleEndTxn),
    Row<kafka::TxnOffsetCommitRequest>("TxnOffsetCommit", HandleTxnOffsetCommit),
    Row<kafka::DescribeConfigsRequest>("DescribeConfigs", HandleDescribeConfigs),
    Row<kafka::AlterConfigsRequest>("AlterConfigs", HandleAlterConfigs),
    Row<kafka::CreatePartitionsRequest>("CreatePartitions", HandleCreatePartitions),
    Row<kafka::DeleteGroupsRequest>("DeleteGroups", HandleDeleteGroups),
    Row<kafka::IncrementalAlterConfigsRequest>("IncrementalAlterConfigs",
                                               HandleIncrementalAlterConfigs),
    Row<kafka::OffsetDeleteRequest>("OffsetDelete", HandleOffsetDelete),
    Row<kafka::DescribeClusterRequest>("DescribeCluster", HandleDescribeCluster),
    Row<kafka::DescribeTopicPartitionsRequest>("DescribeTopicPartitions",
                                               HandleDescribeTopicPartitions),
    Row<kafka::DescribeProducersRequest>("DescribeProducers", HandleDescribeProducers),
    Row<kafka::DescribeTransactionsRequest>("DescribeTransactions", HandleDescribeTransactions),
    Row<kafka::ListTransactionsRequest>("ListTransactions", HandleListTransactions),
    Row<kafka::ConsumerGroupHeartbeatRequest>("ConsumerGroupHeartbeat",
                                              HandleConsumerGroupHeartbeat),
    Row<kafka::ConsumerGroupDescribeRequest>("ConsumerGroupDescribe",
                                             HandleConsumerGroupDescribe),
});

}  // namespace

std::span<const ApiEntry> ApiTable() { return kTable; }

const ApiEntry* FindApi(std::int16_t api_key) {
  for (const auto& entry : kTable) {
    if (entry.key == api_key) return &entry;
  }
  return nullptr;
}

}  // namespace tern::broker
