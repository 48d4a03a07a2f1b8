// The metrics registry: Prometheus' text format as its parsers read it.
#include "common/metrics.h"

#include <gtest/gtest.h>

namespace agent::metrics {
namespace {

TEST(MetricsTest, RendersCountersGaugesHistogramsAndCallbacksInTheTextFormat) {
  Registry r;
  auto& requests = r.AddCounter("requests_total", "Requests.", {"method", "code"});
  requests.With({"Range", "OK"}).Inc(3);
  requests.With({"Put", "OK"}).Inc();
  auto& latency = r.AddHistogram("latency_seconds", "Latency.", {0.1, 1}, {});
  latency.With({}).Observe(0.05);
  latency.With({}).Observe(0.5);
  latency.With({}).Observe(5);
  r.AddGaugeCallback("info", "Info with \"quotes\".", {"v"}, [] { return Registry::Samples{{{"a\"b\\c"}, 1}}; });
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP requests_total Requests.\n# TYPE requests_total counter\n"
            "requests_total{method=\"Put\",code=\"OK\"} 1\n"
            "requests_total{method=\"Range\",code=\"OK\"} 3\n"
            "# HELP latency_seconds Latency.\n# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 5.55\n"
            "latency_seconds_count 3\n"
            "# HELP info Info with \"quotes\".\n# TYPE info gauge\n"
            "info{v=\"a\\\"b\\\\c\"} 1\n");
  EXPECT_EQ(r.Names(), (std::vector<std::string>{"requests_total", "latency_seconds", "info"}));
}

TEST(MetricsTest, TheSameLabelsAreTheSameMetric) {
  Registry r;
  auto& family = r.AddCounter("c_total", "C.", {"x"});
  Counter& a = family.With({"1"});
  a.Inc();
  family.With({"1"}).Inc();
  EXPECT_EQ(&a, &family.With({"1"}));
  EXPECT_EQ(a.value(), 2u);
}

}  // namespace
}  // namespace agent::metrics
