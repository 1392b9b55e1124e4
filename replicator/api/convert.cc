#include "replicator/api/convert.h"

namespace tern::replicator::api {

void SetTimestamp(std::int64_t ms, google::protobuf::Timestamp* out) {
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<std::int32_t>(ms % 1000) * 1'000'000);
}

void SetError(const ErrorNote& error, v1::ErrorInfo* out) {
  out->set_message(error.message);
  if (HasTime(error.time_ms)) SetTimestamp(error.time_ms, out->mutable_time());
}

void SetTranslation(const GroupOffset& offset, v1::OffsetTranslation* out) {
  out->set_source_topic(offset.source_topic);
  out->set_partition(offset.partition);
  out->set_source_offset(offset.source_offset);
  out->set_target_topic(offset.target_topic);
  out->set_target_offset(offset.target_offset);
}

grpc::Status ToGrpcStatus(const Status& status) {
  using Code = Status::Code;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (status.code()) {
    case Code::kOk: return grpc::Status::OK;
    case Code::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case Code::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case Code::kAlreadyExists: code = grpc::StatusCode::ALREADY_EXISTS; break;
    case Code::kUnavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case Code::kUnsupported: code = grpc::StatusCode::UNIMPLEMENTED; break;
    case Code::kOutOfRange: code = grpc::StatusCode::OUT_OF_RANGE; break;
    default: break;
  }
  return {code, std::string(status.message())};
}

}  // namespace tern::replicator::api
