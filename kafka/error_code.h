// Kafka's error codes: the values that go into the error_code fields of responses. An
// application error is answered in the response; it never closes the connection.
// Names follow the protocol's own; tests/schema checks each code against kafka-clients.
#pragma once

#include <cstdint>
#include <string_view>

namespace tern::kafka {

enum class ErrorCode : std::int16_t {
  // The broker failed in a way it cannot describe better.
  kUnknownServerError = -1,
  kNone = 0,
  // The requested offset is below the log start or above the log end.
  kOffsetOutOfRange = 1,
  // A record batch failed its CRC or framing checks.
  kCorruptMessage = 2,
  // The topic or partition does not exist on this broker.
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  // A batch is larger than max.message.bytes.
  kMessageTooLarge = 10,
  // A committed offset's metadata is longer than offset.metadata.max.bytes.
  kOffsetMetadataTooLarge = 12,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  // A topic name is empty, too long, has illegal characters, or names an internal topic.
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kNotEnoughReplicas = 19,
  // acks is not -1, 0 or 1.
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kTopicAuthorizationFailed = 29,
  kGroupAuthorizationFailed = 30,
  kClusterAuthorizationFailed = 31,
  kInvalidTimestamp = 32,
  kUnsupportedSaslMechanism = 33,
  kIllegalSaslState = 34,
  // The API version is outside what the broker serves.
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  // A config name or value is unknown or invalid.
  kInvalidConfig = 40,
  kNotController = 41,
  // The request is malformed in a way its schema cannot catch.
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kInvalidProducerIdMapping = 49,
  kInvalidTransactionTimeout = 50,
  kConcurrentTransactions = 51,
  kTransactionCoordinatorFenced = 52,
  kTransactionalIdAuthorizationFailed = 53,
  kSecurityDisabled = 54,
  kOperationNotAttempted = 55,
  // The partition's log cannot be read or written (I/O error or detected corruption).
  kKafkaStorageError = 56,
  kLogDirNotFound = 57,
  kSaslAuthenticationFailed = 58,
  kUnknownProducerId = 59,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kFetchSessionIdNotFound = 70,
  kInvalidFetchSessionEpoch = 71,
  kTopicDeletionDisabled = 73,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kUnsupportedCompressionType = 76,
  kOffsetNotAvailable = 78,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kGroupSubscribedToTopic = 86,
  // A record inside a batch breaks a rule (e.g. a compacted topic record without a key).
  kInvalidRecord = 87,
  kUnstableOffsetCommit = 88,
  kThrottlingQuotaExceeded = 89,
  kProducerFenced = 90,
  kResourceNotFound = 91,
  kDuplicateResource = 92,
  kUnknownTopicId = 100,
  kInconsistentTopicId = 103,
  kTransactionalIdNotFound = 105,
  kFencedMemberEpoch = 110,
  kUnreleasedInstanceId = 111,
  kUnsupportedAssignor = 112,
  kStaleMemberEpoch = 113,
  // DescribeCluster asked a broker for the controllers' endpoints, which only they list.
  kMismatchedEndpointType = 114,
  // DescribeCluster asked for an endpoint type that does not exist.
  kUnsupportedEndpointType = 115,
  kTransactionAbortable = 120,
  // A regular expression in a request (ListTransactions) does not compile.
  kInvalidRegularExpression = 128,
};

constexpr std::int16_t Code(ErrorCode e) { return static_cast<std::int16_t>(e); }

}  // namespace tern::kafka
