// Process metrics in Prometheus' data model: counters, gauges and histograms, each a family with
// fixed label names, rendered as the text exposition format (version 0.0.4). Updating a metric is
// one relaxed atomic operation on an object looked up once (hot paths keep the reference); label
// values must come from bounded sets (types, methods, codes — never keys or names). Counters never
// reset while the process lives.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace agent::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations in seconds (or any unit) counted into cumulative buckets.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf (the total count); and the sum.
  std::vector<uint64_t> Cumulative() const;
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, plus +Inf
  std::atomic<uint64_t> sum_micros_{0};  // the sum in millionths: atomic and exact enough
};

// Latency buckets in seconds, 50 µs to 10 s.
std::vector<double> LatencyBuckets();

template <typename Metric>
class Family {
 public:
  // The metric for these label values (created on first use; the reference stays valid).
  Metric& With(const std::vector<std::string>& values);

 private:
  friend class Registry;
  Family(std::vector<std::string> labels, std::function<std::unique_ptr<Metric>()> make)
      : labels_(std::move(labels)), make_(std::move(make)) {}
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> metrics_;
};

class Registry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                  std::vector<std::string> labels = {});
  // A gauge read when rendered: samples of (label values, value).
  using Samples = std::vector<std::pair<std::vector<std::string>, double>>;
  void AddGaugeCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                        std::function<Samples()> read);
  // A counter kept elsewhere (a component's own tally), read when rendered.
  void AddCounterCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                          std::function<Samples()> read);

  // The text exposition format, families in registration order, samples sorted by labels.
  std::string RenderPrometheus() const;
  // The names of the families registered (docs and tests compare them).
  std::vector<std::string> Names() const;

 private:
  struct Entry {
    std::string name, help, type;
    std::vector<std::string> labels;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
    std::function<Samples()> read;
  };
  // A family is built whole, then registered: a scrape never sees half of one.
  static std::unique_ptr<Entry> NewEntry(const std::string& name, const std::string& help, const char* type,
                                         std::vector<std::string> labels);
  Entry& Register(std::unique_ptr<Entry> entry);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

template <typename Metric>
Metric& Family<Metric>::With(const std::vector<std::string>& values) {
  std::lock_guard lock(mutex_);
  auto& slot = metrics_[values];
  if (!slot) slot = make_();
  return *slot;
}

}  // namespace agent::metrics
