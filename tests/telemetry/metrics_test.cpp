#include "switchyard/telemetry/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace sy::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(MetricsTest, CounterSamplesGetTotalSuffix) {
  Registry r;
  auto& f = r.family("sy_test_requests", "Requests.", MetricType::counter, {"code"});
  f.counter({"2xx"}).inc();
  f.counter({"2xx"}).inc(2);
  f.counter({"5xx"}).inc(0.5);
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("# HELP sy_test_requests_total Requests.\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE sy_test_requests_total counter\n"));
  EXPECT_THAT(out, HasSubstr("sy_test_requests_total{code=\"2xx\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("sy_test_requests_total{code=\"5xx\"} 0.5\n"));
  EXPECT_THAT(out, Not(HasSubstr("sy_test_requests{")));
  EXPECT_DOUBLE_EQ(f.counter({"2xx"}).value(), 3);
  // The same label values give the same child.
  EXPECT_EQ(&f.counter({"2xx"}), &f.counter({"2xx"}));
  EXPECT_NE(&f.counter({"2xx"}), &f.counter({"5xx"}));
}

TEST(MetricsTest, UnlabelledSamplesHaveNoBraces) {
  Registry r;
  r.family("sy_plain", "Plain.", MetricType::counter, {}).counter({}).inc(7);
  r.family("sy_level", "Level.", MetricType::gauge, {}).gauge({}).set(-2.5);
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("\nsy_plain_total 7\n"));
  EXPECT_THAT(out, HasSubstr("\nsy_level -2.5\n"));
}

TEST(MetricsTest, GaugesHaveNoSuffix) {
  Registry r;
  auto& g = r.family("sy_in_flight", "In flight.", MetricType::gauge, {"deployment"}).gauge({"a/b/0"});
  g.set(5);
  g.add(-2);
  EXPECT_DOUBLE_EQ(g.value(), 3);
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("# TYPE sy_in_flight gauge\n"));
  EXPECT_THAT(out, HasSubstr("sy_in_flight{deployment=\"a/b/0\"} 3\n"));
  EXPECT_THAT(out, Not(HasSubstr("sy_in_flight_total")));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfEqualToCount) {
  static const std::vector<double> bounds = {1, 2.5, 5};
  Registry r;
  auto& h = r.family("sy_latency_seconds", "Latency.", MetricType::histogram, {"op"}, &bounds).histogram({"chat"});
  for (double v : {0.5, 1.0, 1.5, 2.5, 3.0, 10.0}) h.observe(v);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 18.5);
  // Per bucket (not cumulative); a value equal to a bound falls in that bound's bucket (le).
  EXPECT_EQ(h.counts(), (std::vector<std::uint64_t>{2, 2, 1, 1}));
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("# TYPE sy_latency_seconds histogram\n"));
  EXPECT_THAT(out, HasSubstr("sy_latency_seconds_bucket{op=\"chat\",le=\"1\"} 2\n"
                             "sy_latency_seconds_bucket{op=\"chat\",le=\"2.5\"} 4\n"
                             "sy_latency_seconds_bucket{op=\"chat\",le=\"5\"} 5\n"
                             "sy_latency_seconds_bucket{op=\"chat\",le=\"+Inf\"} 6\n"
                             "sy_latency_seconds_sum{op=\"chat\"} 18.5\n"
                             "sy_latency_seconds_count{op=\"chat\"} 6\n"));
}

TEST(MetricsTest, HistogramWithoutLabelsAndDefaultBuckets) {
  Registry r;
  auto& h = r.family("sy_plain_seconds", "Plain.", MetricType::histogram, {}).histogram({});
  EXPECT_EQ(h.bounds(), latency_buckets());
  h.observe(0.003);
  h.observe(200);  // beyond the last bound: only +Inf
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_bucket{le=\"0.0025\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_bucket{le=\"0.005\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_bucket{le=\"120\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_sum 200.003\n"));
  EXPECT_THAT(out, HasSubstr("sy_plain_seconds_count 2\n"));
}

TEST(MetricsTest, StandardBucketsAscend) {
  for (const auto* b : {&latency_buckets(), &fast_buckets(), &token_buckets()}) {
    ASSERT_FALSE(b->empty());
    EXPECT_TRUE(std::is_sorted(b->begin(), b->end()));
    EXPECT_EQ(std::adjacent_find(b->begin(), b->end()), b->end());
  }
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry r;
  r.family("sy_escaped", "Escaped.", MetricType::counter, {"v"}).counter({"a\\b\"c\nd"}).inc();
  EXPECT_THAT(r.render(), HasSubstr("sy_escaped_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
  std::string out;
  append_sample(out, "x", {{"k", "q\""}, {"l", "\\"}}, 2);
  EXPECT_EQ(out, "x{k=\"q\\\"\",l=\"\\\\\"} 2\n");
}

TEST(MetricsTest, AppendSampleNumbers) {
  std::string out;
  append_sample(out, "a", {}, std::numeric_limits<double>::quiet_NaN());
  append_sample(out, "b", {}, std::numeric_limits<double>::infinity());
  append_sample(out, "c", {}, -std::numeric_limits<double>::infinity());
  append_sample(out, "d", {}, 0);
  append_sample(out, "e", {}, 1e21);
  append_sample(out, "f", {}, 0.1);
  EXPECT_EQ(out, "a NaN\nb +Inf\nc -Inf\nd 0\ne 1e+21\nf 0.1\n");
}

TEST(MetricsTest, HelpAndTypeOncePerFamily) {
  Registry r;
  auto& f = r.family("sy_multi", "Many children.", MetricType::counter, {"a", "b"});
  for (int i = 0; i < 5; ++i) f.counter({std::to_string(i), "x"}).inc();
  auto& h = r.family("sy_multi_hist", "Hist.", MetricType::histogram, {"a"}, &token_buckets());
  h.histogram({"1"}).observe(1);
  h.histogram({"2"}).observe(2);
  // Registering again returns the same family and adds no second header.
  EXPECT_EQ(&r.family("sy_multi", "Many children.", MetricType::counter, {"a", "b"}), &f);
  std::string out = r.render();
  EXPECT_EQ(count_of(out, "# HELP sy_multi_total "), 1u);
  EXPECT_EQ(count_of(out, "# TYPE sy_multi_total counter\n"), 1u);
  EXPECT_EQ(count_of(out, "# HELP sy_multi_hist "), 1u);
  EXPECT_EQ(count_of(out, "# TYPE sy_multi_hist histogram\n"), 1u);
  EXPECT_EQ(count_of(out, "sy_multi_total{"), 5u);
  EXPECT_EQ(count_of(out, "sy_multi_hist_count{"), 2u);
  // Every sample line follows its family's header.
  EXPECT_LT(out.find("# TYPE sy_multi_total counter"), out.find("sy_multi_total{"));
  EXPECT_LT(out.find("# TYPE sy_multi_hist histogram"), out.find("sy_multi_hist_bucket{"));
}

TEST(MetricsTest, RegisteringTheSameFamilyDifferentlyThrows) {
  Registry r;
  r.family("sy_twice", "Twice.", MetricType::counter, {"a"});
  EXPECT_THROW(r.family("sy_twice", "Twice.", MetricType::counter, {"b"}), std::logic_error);
  EXPECT_THROW(r.family("sy_twice", "Twice.", MetricType::counter, {"a", "b"}), std::logic_error);
  EXPECT_THROW(r.family("sy_twice", "Twice.", MetricType::counter, {}), std::logic_error);
  EXPECT_THROW(r.family("sy_twice", "Twice.", MetricType::gauge, {"a"}), std::logic_error);
  EXPECT_NO_THROW(r.family("sy_twice", "Twice.", MetricType::counter, {"a"}));
  // The family is intact after the failed registrations.
  EXPECT_EQ(count_of(r.render(), "# TYPE sy_twice_total counter\n"), 1u);
}

TEST(MetricsTest, WrongNumberOfLabelValuesThrows) {
  Registry r;
  auto& f = r.family("sy_labels", "Labels.", MetricType::counter, {"a", "b"});
  EXPECT_THROW(f.counter({"x"}), std::logic_error);
  EXPECT_THROW(f.counter({"x", "y", "z"}), std::logic_error);
  EXPECT_NO_THROW(f.counter({"x", "y"}));
}

TEST(MetricsTest, CollectorsAppendAfterFamilies) {
  Registry r;
  r.family("sy_a", "A.", MetricType::counter, {}).counter({}).inc();
  r.add_collector([](std::string& out) { append_sample(out, "sy_collected", {{"k", "v"}}, 4); });
  std::string out = r.render();
  EXPECT_THAT(out, HasSubstr("sy_collected{k=\"v\"} 4\n"));
  EXPECT_LT(out.find("sy_a_total"), out.find("sy_collected"));
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& c = r.family("sy_conc", "C.", MetricType::counter, {}).counter({});
  auto& h = r.family("sy_conc_h", "H.", MetricType::histogram, {}).histogram({});
  auto work = [&] {
    for (int i = 0; i < 50'000; ++i) {
      c.inc();
      h.observe(0.01);
    }
  };
  std::thread a(work), b(work);
  std::string during = r.render();  // a scrape while they run
  a.join();
  b.join();
  EXPECT_DOUBLE_EQ(c.value(), 100'000);
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_NEAR(h.sum(), 1000, 1e-6);
  EXPECT_THAT(during, HasSubstr("# TYPE sy_conc_total counter"));
}

}  // namespace
}  // namespace sy::telemetry
