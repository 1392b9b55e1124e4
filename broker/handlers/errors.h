// Maps Tern's Status codes to the Kafka error a client understands, for the common cases of
// topic and partition operations. Handlers with sharper knowledge choose codes themselves.
#pragma once

#include "common/status.h"
#include "kafka/error_code.h"

namespace tern::broker {

inline kafka::ErrorCode ToKafkaError(const Status& s) {
  using C = Status::Code;
  switch (s.code()) {
    case C::kOk: return kafka::ErrorCode::kNone;
    case C::kNotFound: return kafka::ErrorCode::kUnknownTopicOrPartition;
    case C::kAlreadyExists: return kafka::ErrorCode::kTopicAlreadyExists;
    case C::kOutOfRange: return kafka::ErrorCode::kOffsetOutOfRange;
    case C::kTooLarge: return kafka::ErrorCode::kMessageTooLarge;
    case C::kCorruption: return kafka::ErrorCode::kCorruptMessage;
    case C::kIoError: return kafka::ErrorCode::kKafkaStorageError;
    case C::kInvalidArgument: return kafka::ErrorCode::kInvalidRequest;
    case C::kUnsupported: return kafka::ErrorCode::kUnsupportedVersion;
    default: return kafka::ErrorCode::kUnknownServerError;
  }
}

}  // namespace tern::broker
