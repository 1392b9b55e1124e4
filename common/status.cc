#include "common/status.h"

namespace tern {

std::string_view StatusCodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kInvalidArgument: return "Invalid argument";
    case Status::Code::kNotFound: return "Not found";
    case Status::Code::kAlreadyExists: return "Already exists";
    case Status::Code::kCorruption: return "Corruption";
    case Status::Code::kIoError: return "I/O error";
    case Status::Code::kUnavailable: return "Unavailable";
    case Status::Code::kUnsupported: return "Unsupported";
    case Status::Code::kOutOfRange: return "Out of range";
    case Status::Code::kTooLarge: return "Too large";
    case Status::Code::kInternal: return "Internal error";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace tern
