#include "absl/strings/string_view.h"
#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace agent::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mutex;
FILE* g_out = stderr;
std::string g_path;  // the file behind g_out; empty for stderr/stdout

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

absl::Status ParseLevel(absl::string_view text, Level* level) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      *level = static_cast<Level>(i);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--log-level: unknown level \"", text, "\" (accepted: debug, info, warn, error)"));
}

absl::Status Configure(Level level, absl::string_view output) {
  FILE* out = nullptr;
  if (output == "stderr") {
    out = stderr;
  } else if (output == "stdout") {
    out = stdout;
  } else {
    out = std::fopen(std::string(output).c_str(), "a");
    if (out == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--log-output: cannot open \"", output, "\" for appending (accepted: stderr, stdout, or a writable file path)"));
    }
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_out != stderr && g_out != stdout) std::fclose(g_out);
  g_out = out;
  g_path = out == stderr || out == stdout ? std::string() : std::string(output);
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Reopen() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_path.empty()) return absl::OkStatus();
  FILE* out = std::fopen(g_path.c_str(), "a");
  if (out == nullptr) return absl::UnavailableError(absl::StrCat("--log-output: cannot reopen \"", g_path, "\""));
  std::fclose(g_out);
  g_out = out;
  return absl::OkStatus();
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, absl::string_view message) {
  std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                                   kLevelNames[static_cast<int>(level)], " ", message, "\n");
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), g_out);
  std::fflush(g_out);
}

}  // namespace agent::log
