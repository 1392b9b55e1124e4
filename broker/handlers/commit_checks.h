// What OffsetCommit and TxnOffsetCommit check of each partition they commit, and the value
// they store: the same rules for both, as in Kafka.
#pragma once

#include <cstdint>

#include "broker/cluster/topics.h"
#include "broker/group/group_coordinator.h"
#include "broker/group/offsets_records.h"
#include "kafka/error_code.h"

namespace tern::broker {

// UNKNOWN_TOPIC_ID (topics named by id) or UNKNOWN_TOPIC_OR_PARTITION for a partition that
// does not exist, OFFSET_METADATA_TOO_LARGE past offset.metadata.max.bytes, else NONE.
template <typename Partition>
kafka::ErrorCode CommitPartitionError(const group::GroupCoordinator& groups, const Topic* topic,
                                      const Partition& p, bool by_id) {
  if (topic == nullptr) {
    return by_id ? kafka::ErrorCode::kUnknownTopicId : kafka::ErrorCode::kUnknownTopicOrPartition;
  }
  if (p.partition_index < 0 ||
      p.partition_index >= static_cast<std::int32_t>(topic->partitions.size())) {
    return kafka::ErrorCode::kUnknownTopicOrPartition;
  }
  if (!groups.MetadataFits(p.committed_metadata)) return kafka::ErrorCode::kOffsetMetadataTooLarge;
  return kafka::ErrorCode::kNone;
}

// The value a commit of `p` at `now_ms` stores; `expire_at_ms` -1 unless the commit asked for
// a retention of its own.
template <typename Partition>
group::OffsetCommitValue CommitValue(const Partition& p, std::int64_t now_ms,
                                     std::int64_t expire_at_ms = -1) {
  group::OffsetCommitValue value;
  value.offset = p.committed_offset;
  value.leader_epoch = p.committed_leader_epoch;
  value.metadata = p.committed_metadata.value_or("");
  value.commit_timestamp_ms = now_ms;
  value.expire_timestamp_ms = expire_at_ms;
  return value;
}

}  // namespace tern::broker
