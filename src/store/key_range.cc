#include "store/key_range.h"

namespace agent::store {

KeyRange KeyRange::Prefix(std::string prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return {std::move(prefix), std::move(end)};
    }
    end.pop_back();
  }
  return {std::move(prefix), std::string(1, '\0')};  // all 0xff or empty: every key from prefix on
}

}  // namespace agent::store
