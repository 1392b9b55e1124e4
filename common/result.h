// Result<T>: either a value of type T or a non-OK Status explaining why there is none.
// Construct it from a T (success) or from a Status (failure; passing an OK Status is a bug
// and is turned into an Internal error). Read value() only after checking ok().
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "common/status.h"

namespace tern {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status)                            // NOLINT(google-explicit-constructor)
      : state_(status.ok() ? Status::Internal("Result built from an OK status")
                           : std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }

  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }

 private:
  std::variant<T, Status> state_;
};

}  // namespace tern
