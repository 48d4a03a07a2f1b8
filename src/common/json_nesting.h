// Nesting of JSON text, byte by byte, with strings (and their escapes) skipped: enough to split
// concatenated objects or to bound how deeply a document nests before a recursive parser sees it.
#pragma once

namespace agent {

class JsonNesting {
 public:
  // Accounts for the next byte; returns the depth of objects and arrays after it.
  int Feed(char c) {
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && depth_ > 0) {
      --depth_;
    }
    return depth_;
  }

 private:
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

}  // namespace agent
