#include "switchyard/telemetry/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sy::telemetry {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: `le` semantics
  buckets_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += buckets_[i].load(std::memory_order_relaxed);
  return n;
}

std::vector<std::uint64_t> Histogram::counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,    5,     10,   20,    40,   60,  120};
  return b;
}

const std::vector<double>& fast_buckets() {
  static const std::vector<double> b = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                        0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.25, 0.5, 1};
  return b;
}

const std::vector<double>& token_buckets() {
  static const std::vector<double> b = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304};
  return b;
}

namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? p : buf);
  }
}

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
}

void append_labels(std::string& out, const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out.push_back(',');
    out += labels[i].first;
    out += "=\"";
    append_escaped(out, labels[i].second);
    out.push_back('"');
  }
  out.push_back('}');
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void append_sample(std::string& out, std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels,
                   double value) {
  out += name;
  append_labels(out, labels);
  out.push_back(' ');
  append_number(out, value);
  out.push_back('\n');
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, MetricType type,
                                   std::vector<std::string> labels, const std::vector<double>* buckets) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  if (f) {
    if (f->type_ != type || f->labels_ != labels) throw std::logic_error("metric " + name + " registered twice differently");
    return *f;
  }
  f = std::make_unique<Family>();
  f->name_ = name;
  f->help_ = help;
  f->type_ = type;
  f->labels_ = std::move(labels);
  f->buckets_ = buckets ? buckets : &latency_buckets();
  f->mu_ = &mu_;
  return *f;
}

Registry::Family::Child& Registry::Family::child(const std::vector<std::string>& values) {
  if (values.size() != labels_.size()) throw std::logic_error("metric " + name_ + ": wrong number of label values");
  std::lock_guard lock(*mu_);
  auto& c = children_[values];
  if (!c) {
    c = std::make_unique<Child>();
    if (type_ == MetricType::histogram) c->histogram = std::make_unique<Histogram>(*buckets_);
  }
  return *c;
}

Counter& Registry::Family::counter(const std::vector<std::string>& values) { return child(values).counter; }
Gauge& Registry::Family::gauge(const std::vector<std::string>& values) { return child(values).gauge; }
Histogram& Registry::Family::histogram(const std::vector<std::string>& values) { return *child(values).histogram; }

void Registry::Family::render(std::string& out) const {
  // A counter's metadata names its samples (`x_total`), as the 0.0.4 text format wants: Prometheus
  // files TYPE and HELP under that name.
  const std::string meta = type_ == MetricType::counter ? name_ + "_total" : name_;
  out += "# HELP " + meta + " " + help_ + "\n# TYPE " + meta + " " + std::string(type_name(type_)) + "\n";
  for (const auto& [values, c] : children_) {
    std::vector<std::pair<std::string, std::string>> labels;
    labels.reserve(values.size() + 1);
    for (size_t i = 0; i < values.size(); ++i) labels.emplace_back(labels_[i], values[i]);
    switch (type_) {
      case MetricType::counter: append_sample(out, name_ + "_total", labels, c->counter.value()); break;
      case MetricType::gauge: append_sample(out, name_, labels, c->gauge.value()); break;
      case MetricType::histogram: {
        const Histogram& h = *c->histogram;
        auto counts = h.counts();
        std::uint64_t cumulative = 0;
        labels.emplace_back("le", "");
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          std::string le;
          if (i < h.bounds().size()) append_number(le, h.bounds()[i]);
          else le = "+Inf";
          labels.back().second = std::move(le);
          append_sample(out, name_ + "_bucket", labels, static_cast<double>(cumulative));
        }
        labels.pop_back();
        append_sample(out, name_ + "_sum", labels, h.sum());
        // The +Inf bucket, not the separate count: a scrape during updates stays self-consistent.
        append_sample(out, name_ + "_count", labels, static_cast<double>(cumulative));
        break;
      }
    }
  }
}

std::string Registry::render() const {
  std::string out;
  out.reserve(16384);
  std::vector<std::function<void(std::string&)>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : families_) f->render(out);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(out);
  return out;
}

void Registry::add_collector(std::function<void(std::string& out)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

}  // namespace sy::telemetry
