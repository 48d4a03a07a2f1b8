#include "absl/strings/string_view.h"
#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace agent::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
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

void SetLevel(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level CurrentLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

absl::string_view LevelName(Level level) { return kLevelNames[static_cast<int>(level)]; }

absl::Status ParseFormat(absl::string_view text, Format* format) {
  if (text == "text" || text == "json") {
    *format = text == "text" ? Format::kText : Format::kJson;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("--log-format: unknown format \"", text, "\" (accepted: text, json)"));
}

void SetFormat(Format format) { g_format.store(static_cast<int>(format), std::memory_order_relaxed); }

namespace {

void AppendJsonString(std::string& out, absl::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          absl::StrAppend(&out, "\\u00", absl::string_view(&kHex[c >> 4], 1), absl::string_view(&kHex[c & 15], 1));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// "xds-v3-grpc: NACK ..." → ("xds-v3-grpc", "NACK ..."): the component a message names first (one
// word, or one of the two-word components), else "agent".
std::pair<absl::string_view, absl::string_view> Logger(absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos || colon == 0 || colon > 24) return {"agent", message};
  const absl::string_view prefix = message.substr(0, colon);
  if (prefix == "bundle mode" || prefix == "mesh front") return {prefix, message.substr(colon + 2)};
  for (char c : prefix) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return {"agent", message};
  }
  return {prefix, message.substr(colon + 2)};
}

}  // namespace

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, absl::string_view message, Fields fields) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_format.load(std::memory_order_relaxed) == static_cast<int>(Format::kJson)) {
    const auto [logger, text] = Logger(message);
    line = absl::StrCat("{\"time\":\"", time, "\",\"level\":\"", kLevelNames[static_cast<int>(level)], "\",\"logger\":");
    AppendJsonString(line, logger);
    line += ",\"message\":";
    AppendJsonString(line, text);
    if (fields.size() > 0) {
      line += ",\"fields\":{";
      for (const Field& field : fields) {
        if (line.back() != '{') line += ',';
        AppendJsonString(line, field.key);
        line += ':';
        if (field.quoted) {
          AppendJsonString(line, field.value);
        } else {
          line += field.value;
        }
      }
      line += '}';
    }
    line += "}\n";
  } else {
    line = absl::StrCat(time, " ", kLevelNames[static_cast<int>(level)], " ", message, "\n");
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), g_out);
  std::fflush(g_out);
}

}  // namespace agent::log
