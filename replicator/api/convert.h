// Small conversions from the engine's types to the API's messages, shared by the handlers.
// Optional message fields (times, errors) are left unset when the engine has nothing: the
// callers test HasTime/HasError first.
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "common/status.h"
#include "replicator/stats.h"
#include "tern/replicator/v1/replicator.pb.h"

namespace tern::replicator::api {

// A wall-clock time in milliseconds since the epoch is known (0 means never).
inline bool HasTime(std::int64_t ms) { return ms > 0; }
void SetTimestamp(std::int64_t ms, google::protobuf::Timestamp* out);

inline bool HasError(const ErrorNote& error) { return !error.message.empty(); }
void SetError(const ErrorNote& error, v1::ErrorInfo* out);

void SetTranslation(const GroupOffset& offset, v1::OffsetTranslation* out);

// A Tern Status as a gRPC status with the nearest code.
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace tern::replicator::api
