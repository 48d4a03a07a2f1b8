// The agent's side of the mesh front (docs/interception.md): its directory, the translation
// options that turn it on, and the sink that writes the front's table where nginx reads it.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "config/sidecar_config.h"
#include "translate/translator.h"

namespace agent::cli {

// With config.mesh_front_enabled: creates the directory (mode 0700; bundle mode later gives it to
// APISIX's worker user), sets `options` for the front, and returns the table sink for the
// reconciler. Without: a null sink, `options` untouched.
absl::StatusOr<std::function<void(const std::string&)>> PrepareMeshFront(const config::SidecarConfig& config,
                                                                          translate::TranslateOptions& options);

}  // namespace agent::cli
