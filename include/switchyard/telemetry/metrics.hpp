#pragma once
/// Prometheus metrics: families registered up front, children (one per set of label values) created
/// when a configuration is loaded, never per request. The request path holds pointers to children and
/// only adds to atomics; a scrape renders the text exposition format under the registry's lock, which
/// the request path never takes.
///
/// Thread-safety: Counter, Gauge and Histogram are lock-free and may be updated from any thread.
/// Registry methods are thread-safe (one mutex, for registration and rendering).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sy::telemetry {

class Counter {
 public:
  void inc(double v = 1) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

/// Fixed buckets (upper bounds, ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const { return bounds_; }
  /// Per-bucket counts (not cumulative), the +Inf bucket last.
  std::vector<std::uint64_t> counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept;  ///< the sum of the buckets (one atomic less per observation)

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

enum class MetricType { counter, gauge, histogram };

/// Standard bucket sets.
const std::vector<double>& latency_buckets();  ///< seconds: 1 ms .. 120 s
const std::vector<double>& fast_buckets();     ///< seconds: 10 µs .. 1 s (proxy overhead, token gaps)
const std::vector<double>& token_buckets();    ///< tokens: 1 .. 4M, powers of 4

class Registry {
 public:
  class Family;

  /// Registers (or returns) the family `name`. A second registration must agree on type and labels.
  Family& family(const std::string& name, const std::string& help, MetricType type, std::vector<std::string> labels,
                 const std::vector<double>* buckets = nullptr);

  /// The text exposition format (version 0.0.4) of every family, then of every collector.
  std::string render() const;
  /// A callback that appends series computed at scrape time (gauges of deployment state, ...).
  void add_collector(std::function<void(std::string& out)> collector);

  class Family {
   public:
    /// The child for these label values (in the order of the family's labels), created once.
    Counter& counter(const std::vector<std::string>& values);
    Gauge& gauge(const std::vector<std::string>& values);
    Histogram& histogram(const std::vector<std::string>& values);

   private:
    friend class Registry;
    struct Child {
      Counter counter;
      Gauge gauge;
      std::unique_ptr<Histogram> histogram;
    };
    Child& child(const std::vector<std::string>& values);
    void render(std::string& out) const;
    std::string name_, help_;
    MetricType type_ = MetricType::counter;
    std::vector<std::string> labels_;
    const std::vector<double>* buckets_ = nullptr;
    std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
    std::mutex* mu_ = nullptr;  ///< the registry's
  };

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

/// Appends `name{labels} value\n` with label values escaped as the exposition format wants.
void append_sample(std::string& out, std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
                   double value);

}  // namespace sy::telemetry
