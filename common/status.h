// Status: the outcome of an operation that can fail, as in LevelDB — either OK or an error
// code with a human-readable message. Storage, protocol and replication code return a Status
// (or a Result<T>, see result.h) instead of throwing. Status is a small value type; copy it
// freely. It is marked [[nodiscard]] so an ignored error fails the build.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace tern {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller passed something malformed (a flag, a config value, bytes)
    kNotFound,         // the named thing does not exist
    kAlreadyExists,    // the named thing exists and must not
    kCorruption,       // stored data failed a check (CRC, length, ordering)
    kIoError,          // the operating system refused a file or socket operation
    kUnavailable,      // a peer or resource cannot be reached now; retrying may help
    kUnsupported,      // a valid request this build does not serve
    kOutOfRange,       // a position or offset lies outside what exists (e.g. a fetch offset)
    kTooLarge,         // the input exceeds a configured size limit (e.g. max.message.bytes)
    kInternal,         // a broken invariant inside Tern
  };

  Status() = default;  // OK

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string_view msg) { return {Code::kInvalidArgument, msg}; }
  static Status NotFound(std::string_view msg) { return {Code::kNotFound, msg}; }
  static Status AlreadyExists(std::string_view msg) { return {Code::kAlreadyExists, msg}; }
  static Status Corruption(std::string_view msg) { return {Code::kCorruption, msg}; }
  static Status IoError(std::string_view msg) { return {Code::kIoError, msg}; }
  static Status Unavailable(std::string_view msg) { return {Code::kUnavailable, msg}; }
  static Status Unsupported(std::string_view msg) { return {Code::kUnsupported, msg}; }
  static Status OutOfRange(std::string_view msg) { return {Code::kOutOfRange, msg}; }
  static Status TooLarge(std::string_view msg) { return {Code::kTooLarge, msg}; }
  static Status Internal(std::string_view msg) { return {Code::kInternal, msg}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>", e.g. "Invalid argument: port 70000 is out of range".
  std::string ToString() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Status(Code code, std::string_view message) : code_(code), message_(message) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// The name of a status code as ToString prints it.
std::string_view StatusCodeName(Status::Code code);

}  // namespace tern
