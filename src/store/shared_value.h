// An immutable value shared by everything that holds it: the live key, the history events that
// name it (as the new value and later as the previous one), readers, and the writer that made it.
// A put costs one copy of the bytes however many of those hold them; at mesh scale a value is a
// translated route or upstream and there are tens of thousands of them.
#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace agent::store {

class SharedValue {
 public:
  SharedValue() = default;
  // Takes the bytes (one copy when given an lvalue, none when moved).
  SharedValue(std::string value)  // NOLINT(google-explicit-constructor): a value is bytes
      : bytes_(value.empty() ? nullptr : std::make_shared<const std::string>(std::move(value))) {}
  SharedValue(const char* value) : SharedValue(std::string(value)) {}  // NOLINT(google-explicit-constructor)
  SharedValue(std::string_view value) : SharedValue(std::string(value)) {}  // NOLINT(google-explicit-constructor)

  const std::string& str() const { return bytes_ ? *bytes_ : Empty(); }
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  size_t size() const { return bytes_ ? bytes_->size() : 0; }
  bool empty() const { return size() == 0; }
  const char* data() const { return str().data(); }
  // Whether two values are the same bytes in memory (not only equal).
  bool SharesWith(const SharedValue& other) const { return bytes_ == other.bytes_; }

  friend bool operator==(const SharedValue& a, const SharedValue& b) {
    return a.bytes_ == b.bytes_ || a.str() == b.str();
  }
  friend bool operator==(const SharedValue& a, std::string_view b) { return std::string_view(a.str()) == b; }
  friend bool operator==(const SharedValue& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const SharedValue& a, const char* b) { return std::string_view(a.str()) == b; }
  friend std::ostream& operator<<(std::ostream& out, const SharedValue& v) { return out << v.str(); }

 private:
  static const std::string& Empty() {
    static const std::string empty;
    return empty;
  }
  std::shared_ptr<const std::string> bytes_;
};

}  // namespace agent::store
