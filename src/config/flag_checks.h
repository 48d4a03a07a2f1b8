// Checks shared by the sub-commands' flag validation, with one wording for each kind of mistake.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace agent::config {

// `value` is one of `accepted`: else "FLAG: unknown value "v" (accepted: a, b)".
absl::Status CheckOneOf(absl::string_view flag, const std::string& value,
                        std::initializer_list<absl::string_view> accepted);

// A TCP port (1-65535): else "FLAG: N is not a port".
absl::Status CheckPort(absl::string_view flag, int port);

// Each of `files` (flag, path) that is given can be read: else "FLAG: PATH: <errno's reason>".
absl::Status CheckReadable(std::initializer_list<std::pair<absl::string_view, const std::string*>> files);

// The first executable `binary` in $PATH's directories (a standard PATH when unset); "" if none.
std::string FindOnPath(absl::string_view binary);

}  // namespace agent::config
