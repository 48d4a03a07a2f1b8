#pragma once

#include <string>
#include <string_view>

namespace agent::store {

// etcd's key-range convention: empty range_end = the single key; range_end "\0" = every key >= key;
// otherwise the half-open interval [key, range_end). Keys compare bytewise.
struct KeyRange {
  std::string key;
  std::string range_end;

  static KeyRange Single(std::string key) { return {std::move(key), {}}; }
  static KeyRange Prefix(std::string prefix);  // range_end = prefix with its last byte incremented

  bool IsSingle() const { return range_end.empty(); }
  bool IsUnbounded() const { return range_end.size() == 1 && range_end[0] == '\0'; }
  bool Contains(std::string_view k) const {
    if (IsSingle()) return k == key;
    if (k < std::string_view(key)) return false;
    return IsUnbounded() || k < std::string_view(range_end);
  }
};

}  // namespace agent::store
