#include "common/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace agent::metrics {

void Gauge::Add(double d) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + d, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();  // le: v <= bound
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  if (v > 0) sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(v * 1e6)), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::Cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) out[i] = (total += buckets_[i].load(std::memory_order_relaxed));
  return out;
}

double Histogram::sum() const { return sum_micros_.load(std::memory_order_relaxed) / 1e6; }

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
}

namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", Escape(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.6g", v);
}

}  // namespace

std::unique_ptr<Registry::Entry> Registry::NewEntry(const std::string& name, const std::string& help, const char* type,
                                                   std::vector<std::string> labels) {
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->type = type;
  entry->labels = std::move(labels);
  return entry;
}

Registry::Entry& Registry::Register(std::unique_ptr<Entry> entry) {
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  auto entry = NewEntry(name, help, "counter", labels);
  entry->counters.reset(new Family<Counter>(std::move(labels), [] { return std::make_unique<Counter>(); }));
  return *Register(std::move(entry)).counters;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  auto entry = NewEntry(name, help, "gauge", labels);
  entry->gauges.reset(new Family<Gauge>(std::move(labels), [] { return std::make_unique<Gauge>(); }));
  return *Register(std::move(entry)).gauges;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                          std::vector<std::string> labels) {
  auto entry = NewEntry(name, help, "histogram", labels);
  entry->histograms.reset(
      new Family<Histogram>(std::move(labels), [bounds] { return std::make_unique<Histogram>(bounds); }));
  return *Register(std::move(entry)).histograms;
}

void Registry::AddGaugeCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                std::function<Samples()> read) {
  auto entry = NewEntry(name, help, "gauge", std::move(labels));
  entry->read = std::move(read);
  Register(std::move(entry));
}

void Registry::AddCounterCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                  std::function<Samples()> read) {
  auto entry = NewEntry(name, help, "counter", std::move(labels));
  entry->read = std::move(read);
  Register(std::move(entry));
}

std::vector<std::string> Registry::Names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e->name);
  return names;
}

std::string Registry::RenderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    absl::StrAppend(&out, "# HELP ", e->name, " ", e->help, "\n# TYPE ", e->name, " ", e->type, "\n");
    if (e->read) {
      Samples samples = e->read();
      std::sort(samples.begin(), samples.end());
      for (const auto& [values, v] : samples) absl::StrAppend(&out, e->name, Labels(e->labels, values), " ", Number(v), "\n");
    } else if (e->counters) {
      std::lock_guard family(e->counters->mutex_);
      for (const auto& [values, c] : e->counters->metrics_) {
        absl::StrAppend(&out, e->name, Labels(e->labels, values), " ", c->value(), "\n");
      }
    } else if (e->gauges) {
      std::lock_guard family(e->gauges->mutex_);
      for (const auto& [values, g] : e->gauges->metrics_) {
        absl::StrAppend(&out, e->name, Labels(e->labels, values), " ", Number(g->value()), "\n");
      }
    } else if (e->histograms) {
      std::lock_guard family(e->histograms->mutex_);
      for (const auto& [values, h] : e->histograms->metrics_) {
        const std::vector<uint64_t> cumulative = h->Cumulative();
        for (size_t i = 0; i < h->bounds().size(); ++i) {
          absl::StrAppend(&out, e->name, "_bucket",
                          Labels(e->labels, values, absl::StrCat("le=\"", Number(h->bounds()[i]), "\"")), " ",
                          cumulative[i], "\n");
        }
        absl::StrAppend(&out, e->name, "_bucket", Labels(e->labels, values, "le=\"+Inf\""), " ", cumulative.back(),
                        "\n");
        absl::StrAppend(&out, e->name, "_sum", Labels(e->labels, values), " ", Number(h->sum()), "\n");
        absl::StrAppend(&out, e->name, "_count", Labels(e->labels, values), " ", cumulative.back(), "\n");
      }
    }
  }
  return out;
}

}  // namespace agent::metrics
