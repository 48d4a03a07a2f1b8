#pragma once

#include "absl/status/statusor.h"

namespace agent::etcd {

// Lets one adapter serve API calls that cannot fail (returning T) and calls that can (StatusOr<T>).
template <typename T>
absl::StatusOr<T> AsStatusOr(T value) {
  return value;
}
template <typename T>
absl::StatusOr<T> AsStatusOr(absl::StatusOr<T> value) {
  return value;
}

}  // namespace agent::etcd
