// --etcd-sink: the sink built from the sidecar's flags (nullptr when the flag is not given).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "config/sidecar_config.h"
#include "sink/etcd_sink.h"

namespace agent::cli {

absl::StatusOr<std::unique_ptr<sink::EtcdSink>> MakeEtcdSink(const config::SidecarConfig& config);

}  // namespace agent::cli
