// Process-wide leveled logger. Formatting is skipped entirely for disabled levels, so debug
// logging in hot paths costs one atomic load.
#pragma once

#include "absl/strings/string_view.h"
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

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
// level, logger (a message's "component: " prefix, else "agent") and message.
enum class Format { kText, kJson };
absl::Status ParseFormat(absl::string_view text, Format* format);
void SetFormat(Format format);

// Opens the --log-output file again (after a rotation moved it); nothing for stderr/stdout.
absl::Status Reopen();

bool Enabled(Level level);
void Write(Level level, absl::string_view message);

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

}  // namespace agent::log
