// The records of consumer-protocol (KIP-848) groups in __consumer_offsets, in Kafka's own
// formats, so that a group's members, epochs and assignments survive a restart and Kafka's
// readers of the topic (kafka-dump-log --offsets-decoder) decode them.
//
// A key is an int16 record type and int16-length strings; a value an int16 version (0) and a
// flexible body (compact strings and arrays, a tagged-field section after every struct):
//   3  ConsumerGroupMetadata              key: group            value: epoch int32
//   5  ConsumerGroupMemberMetadata        key: group, member    value: instanceId?, rackId?,
//        clientId, clientHost, subscribedTopicNames [], subscribedTopicRegex?,
//        rebalanceTimeoutMs int32, serverAssignor?; tag 0 classicMemberMetadata? {sessionTimeoutMs
//        int32, supportedProtocols [] {name, metadata bytes}} for a member of the classic
//        protocol in a consumer group (after an online upgrade)
//   6  ConsumerGroupTargetAssignmentMetadata  key: group        value: assignmentEpoch int32
//   7  ConsumerGroupTargetAssignmentMember    key: group, member
//        value: topicPartitions [] {topicId uuid, partitions [] int32}
//   8  ConsumerGroupCurrentMemberAssignment   key: group, member
//        value: memberEpoch int32, previousMemberEpoch int32, state int8 (0 stable,
//        1 unrevoked, 2 unreleased partitions), assignedPartitions [],
//        partitionsPendingRevocation [] (each {topicId, partitions})
// Types 4 (partition metadata, no longer written by Kafka 4.x) and 16 (resolved regular
// expressions; resolved live here) are recognised and not used. A tombstone (null value)
// removes its key. Tagged fields that are read are skipped (Kafka's metadata hash, assignment
// timestamp and per-partition assignment epochs).
//
// Pure functions; any thread may call them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/group/server_assignor.h"
#include "common/result.h"

namespace tern::broker::group {

enum class ConsumerRecordType : std::int16_t {
  kGroupMetadata = 3,
  kPartitionMetadata = 4,
  kMemberMetadata = 5,
  kTargetAssignmentMetadata = 6,
  kTargetAssignmentMember = 7,
  kCurrentMemberAssignment = 8,
  kRegularExpression = 16,
};

struct ConsumerRecordKey {
  ConsumerRecordType type = ConsumerRecordType::kGroupMetadata;
  std::string group;
  std::string member;  // members' records; the expression of type 16
};

struct ClassicMemberMetadata {
  std::int32_t session_timeout_ms = 0;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
  friend bool operator==(const ClassicMemberMetadata&, const ClassicMemberMetadata&) = default;
};

struct MemberMetadataValue {
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  std::vector<std::string> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::int32_t rebalance_timeout_ms = -1;
  std::optional<std::string> server_assignor;
  std::optional<ClassicMemberMetadata> classic;
  friend bool operator==(const MemberMetadataValue&, const MemberMetadataValue&) = default;
};

struct MemberAssignmentValue {
  std::int32_t member_epoch = 0;
  std::int32_t previous_member_epoch = -1;
  std::int8_t state = 0;
  TopicPartitions assigned;
  TopicPartitions pending_revocation;
  friend bool operator==(const MemberAssignmentValue&, const MemberAssignmentValue&) = default;
};

std::string EncodeConsumerRecordKey(ConsumerRecordType type, std::string_view group,
                                    std::string_view member = {});
// The key of a consumer-protocol group's record; InvalidArgument when malformed, NotFound
// when the key is of another record type (offset commits, classic group metadata).
Result<ConsumerRecordKey> DecodeConsumerRecordKey(std::string_view key);

// Types 3 and 6: one int32 epoch.
std::string EncodeEpochValue(std::int32_t epoch);
Result<std::int32_t> DecodeEpochValue(std::string_view value);
std::string EncodeMemberMetadataValue(const MemberMetadataValue& value);
Result<MemberMetadataValue> DecodeMemberMetadataValue(std::string_view value);
std::string EncodeTargetAssignmentValue(const TopicPartitions& target);
Result<TopicPartitions> DecodeTargetAssignmentValue(std::string_view value);
std::string EncodeMemberAssignmentValue(const MemberAssignmentValue& value);
Result<MemberAssignmentValue> DecodeMemberAssignmentValue(std::string_view value);

}  // namespace tern::broker::group
