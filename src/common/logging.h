// Process-wide leveled logger. Formatting is skipped entirely for disabled levels, so debug
// logging in hot paths costs one atomic load.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace agent::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error".
absl::Status ParseLevel(absl::string_view text, Level* level);

// output: "stderr", "stdout", or a file path (opened for append).
absl::Status Configure(Level level, absl::string_view output);

// At run time (the admin endpoint's POST /logging?level=).
void SetLevel(Level level);
Level CurrentLevel();
absl::string_view LevelName(Level level);

// text: "2026-12-02T00:53:01.123Z info xds-v3-grpc: ..."; json: one object per line with time,
// level, logger (a message's "component: " prefix, else "agent"), message and, for events that
// carry them, fields.
enum class Format { kText, kJson };
absl::Status ParseFormat(absl::string_view text, Format* format);
void SetFormat(Format format);

// Opens the --log-output file again (after a rotation moved it); nothing for stderr/stdout.
absl::Status Reopen();

// One structured field of an event (xDS type, version, nonce, revision, …): a member of the JSON
// line's "fields" object. The text format leaves fields out; its message already says them.
struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v), quoted(true) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(absl::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  Field(absl::string_view k, Int v) : key(k), value(absl::StrCat(v)), quoted(false) {}
  absl::string_view key;
  std::string value;
  bool quoted;  // a string; else a number
};
using Fields = std::initializer_list<Field>;

bool Enabled(Level level);
void Write(Level level, absl::string_view message, Fields fields = {});

template <typename... Args>
void Debug(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, absl::StrFormat(format, args...));
}
template <typename... Args>
void Info(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, absl::StrFormat(format, args...));
}
template <typename... Args>
void Warn(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, absl::StrFormat(format, args...));
}
template <typename... Args>
void Error(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, absl::StrFormat(format, args...));
}

// The same, with structured fields: log::InfoWith({{"type", type}, {"revision", r}}, "...", ...).
template <typename... Args>
void DebugWith(Fields fields, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, absl::StrFormat(format, args...), fields);
}
template <typename... Args>
void InfoWith(Fields fields, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, absl::StrFormat(format, args...), fields);
}
template <typename... Args>
void WarnWith(Fields fields, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, absl::StrFormat(format, args...), fields);
}

template <typename... Args>
void ErrorWith(Fields fields, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, absl::StrFormat(format, args...), fields);
}

}  // namespace agent::log
