// What the kubelet's probes ask: is the agent alive, and is the pod ready for traffic? Ready means
// the first xDS configuration is served to APISIX and, in bundle mode, APISIX is running, and any
// added condition holds (the etcd sink: the external cluster is in sync). Set from the sources and
// the APISIX supervisor, read by the health endpoint; thread-safe once serving.
#pragma once

#include <atomic>
#include <functional>
#include <string>

namespace agent::health {

class Readiness {
 public:
  explicit Readiness(bool needs_apisix) : needs_apisix_(needs_apisix) {}

  void SetConfigServed() { config_served_ = true; }
  void SetApisixRunning(bool running) { apisix_running_ = running; }
  // Shutting down: not ready from now on, while traffic still flows (the drain).
  void SetDraining() { draining_ = true; }

  // One more condition: "" when it holds, else why not. Set before the probes are served.
  void AddCondition(std::function<std::string()> blocker) { blocker_ = std::move(blocker); }

  bool config_served() const { return config_served_; }
  bool ready() const {
    return !draining_ && config_served_ && (!needs_apisix_ || apisix_running_) && (!blocker_ || blocker_().empty());
  }
  // Why not ready, for the probe's body and the logs; "ready" when it is.
  std::string Describe() const {
    if (draining_) return "draining: the agent is shutting down";
    if (!config_served_) return "waiting for the first xDS configuration";
    if (needs_apisix_ && !apisix_running_) return "APISIX is not running";
    if (blocker_) {
      if (std::string why = blocker_(); !why.empty()) return why;
    }
    return "ready";
  }

 private:
  const bool needs_apisix_;
  std::atomic<bool> config_served_{false};
  std::atomic<bool> apisix_running_{false};
  std::atomic<bool> draining_{false};
  std::function<std::string()> blocker_;
};

}  // namespace agent::health
