#include "switchyard/learn/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <unordered_map>

namespace sy::learn {

PairOutcomes OutcomeTable::view() const {
  return PairOutcomes{weak_quality, strong_quality, weak_cost, strong_cost, weak_in, weak_out, strong_in, strong_out};
}

OutcomeTable make_outcomes(const Dataset& data, std::span<const std::size_t> rows, int strong, int weak,
                           const CostModel& costs) {
  OutcomeTable t;
  const auto s = static_cast<std::size_t>(strong), w = static_cast<std::size_t>(weak);
  auto one = [&](const Example& e, std::size_t m, const ModelPrice& price, std::vector<float>& q,
                 std::vector<double>& cost, std::vector<double>& in, std::vector<double>& out) {
    const float qv = e.quality[m];
    q.push_back(std::isnan(qv) ? 0.0f : qv);
    const double it = std::isnan(e.input_tokens[m]) ? static_cast<double>(e.prompt.size()) / 4.0 : e.input_tokens[m];
    const double ot = std::isnan(e.output_tokens[m]) ? costs.default_output_tokens : e.output_tokens[m];
    in.push_back(it);
    out.push_back(ot);
    cost.push_back(std::isnan(e.cost[m]) ? (it * price.input_per_m + ot * price.output_per_m) / 1e6 : e.cost[m]);
  };
  for (std::size_t r : rows) {
    const Example& e = data.examples[r];
    one(e, w, costs.weak, t.weak_quality, t.weak_cost, t.weak_in, t.weak_out);
    one(e, s, costs.strong, t.strong_quality, t.strong_cost, t.strong_in, t.strong_out);
  }
  return t;
}

std::vector<std::vector<std::size_t>> folds_by_prompt(const Dataset& data, int k, std::uint64_t seed) {
  k = std::max(k, 1);
  // Group equal prompts, shuffle the groups, then deal them round-robin to the smallest fold so far.
  std::unordered_map<std::string_view, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < data.examples.size(); ++i) {
    auto [it, fresh] = group_of.try_emplace(data.examples[i].prompt, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::mt19937_64 rng(seed);
  for (std::size_t i = groups.size(); i > 1; --i) {
    std::uniform_int_distribution<std::size_t> u(0, i - 1);
    std::swap(groups[i - 1], groups[u(rng)]);
  }
  std::vector<std::vector<std::size_t>> folds(static_cast<std::size_t>(k));
  for (auto& g : groups) {
    auto smallest = std::min_element(folds.begin(), folds.end(),
                                     [](const auto& a, const auto& b) { return a.size() < b.size(); });
    smallest->insert(smallest->end(), g.begin(), g.end());
  }
  for (auto& f : folds) std::sort(f.begin(), f.end());
  return folds;
}

Result<CrossValidation> cross_validate(const Dataset& data, std::span<const RawFeatures> raw_in, const TrainOptions& opts,
                                       int k, std::uint64_t seed, const Progress& progress) {
  std::vector<RawFeatures> own;
  if (raw_in.empty()) {
    own = extract_all(data, opts.features);
    raw_in = own;
  }
  CrossValidation cv;
  cv.folds = folds_by_prompt(data, k, seed);
  cv.scores.assign(data.examples.size(), 0.0);
  const int strong = opts.strong >= 0 ? opts.strong : best_model(data);
  const int weak = opts.weak >= 0 ? opts.weak : worst_model(data);
  TrainOptions o = opts;
  o.strong = strong;
  o.weak = weak;
  if (o.route_head) o.quality_heads = false;  // only the route score is evaluated
  for (std::size_t f = 0; f < cv.folds.size(); ++f) {
    std::vector<std::size_t> train;
    for (std::size_t g = 0; g < cv.folds.size(); ++g)
      if (g != f) train.insert(train.end(), cv.folds[g].begin(), cv.folds[g].end());
    std::sort(train.begin(), train.end());
    const double base = static_cast<double>(f) / static_cast<double>(cv.folds.size());
    const double step = 1.0 / static_cast<double>(cv.folds.size());
    auto model = train_router(data, train, raw_in, o, [&](std::string_view stage, double x) {
      if (progress) progress(stage, base + step * x);
    });
    if (!model) return std::move(model).error();
    std::vector<double> fold_scores;
    for (std::size_t r : cv.folds[f]) {
      cv.scores[r] = (*model)->score(data.examples[r].prompt, data.examples[r].conversation);
      fold_scores.push_back(cv.scores[r]);
    }
    OutcomeTable t = make_outcomes(data, cv.folds[f], strong, weak, CostModel{});
    cv.fold_curves.push_back(evaluate_router(fold_scores, t.view()));
  }
  if (progress) progress("cv", 1.0);
  return cv;
}

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

/// One panel: x from `xs(point)`, y accuracy.
template <class XFn>
void panel(std::string& svg, double ox, double oy, double w, double h, const std::string& xlabel, bool percent_x,
           std::span<const PlotSeries> series, double qw, double qs, XFn xs) {
  double xmin = 0, xmax = 0, ymin = std::min(qw, qs), ymax = std::max(qw, qs);
  bool first = true;
  for (const PlotSeries& s : series)
    for (const OperatingPoint& p : s.points) {
      double x = xs(p);
      if (first) xmin = xmax = x;
      first = false;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, p.accuracy);
      ymax = std::max(ymax, p.accuracy);
    }
  if (xmax <= xmin) xmax = xmin + 1;
  const double pad = (ymax - ymin) * 0.05 + 1e-9;
  ymin -= pad;
  ymax += pad;
  auto X = [&](double x) { return ox + (x - xmin) / (xmax - xmin) * w; };
  auto Y = [&](double y) { return oy + h - (y - ymin) / (ymax - ymin) * h; };
  svg += "<rect x='" + fmt("%.1f", ox) + "' y='" + fmt("%.1f", oy) + "' width='" + fmt("%.1f", w) + "' height='" +
         fmt("%.1f", h) + "' fill='none' stroke='#999'/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double xv = xmin + (xmax - xmin) * i / 5.0, yv = ymin + (ymax - ymin) * i / 5.0;
    svg += "<line x1='" + fmt("%.1f", X(xv)) + "' y1='" + fmt("%.1f", oy) + "' x2='" + fmt("%.1f", X(xv)) + "' y2='" +
           fmt("%.1f", oy + h) + "' stroke='#eee'/>\n";
    svg += "<line x1='" + fmt("%.1f", ox) + "' y1='" + fmt("%.1f", Y(yv)) + "' x2='" + fmt("%.1f", ox + w) + "' y2='" +
           fmt("%.1f", Y(yv)) + "' stroke='#eee'/>\n";
    const std::string xt = percent_x ? fmt("%.0f%%", xv * 100) : fmt(xmax - xmin < 1 ? "$%.3f" : "$%.2f", xv);
    svg += "<text x='" + fmt("%.1f", X(xv)) + "' y='" + fmt("%.1f", oy + h + 16) + "' text-anchor='middle'>" + xt +
           "</text>\n";
    svg += "<text x='" + fmt("%.1f", ox - 6) + "' y='" + fmt("%.1f", Y(yv) + 4) + "' text-anchor='end'>" +
           fmt("%.1f%%", yv * 100) + "</text>\n";
  }
  for (auto [q, label] : {std::pair{qw, "weak only"}, std::pair{qs, "strong only"}}) {
    svg += "<line x1='" + fmt("%.1f", ox) + "' y1='" + fmt("%.1f", Y(q)) + "' x2='" + fmt("%.1f", ox + w) + "' y2='" +
           fmt("%.1f", Y(q)) + "' stroke='#bbb' stroke-dasharray='2,3'/>\n";
    svg += "<text x='" + fmt("%.1f", ox + w - 4) + "' y='" + fmt("%.1f", Y(q) - 4) +
           "' text-anchor='end' fill='#888'>" + label + "</text>\n";
  }
  for (const PlotSeries& s : series) {
    std::string d;
    for (const OperatingPoint& p : s.points) d += (d.empty() ? "M" : " L") + fmt("%.1f", X(xs(p))) + "," + fmt("%.1f", Y(p.accuracy));
    svg += "<path d='" + d + "' fill='none' stroke='" + escape(s.color) + "' stroke-width='2'" +
           (s.dashed ? " stroke-dasharray='6,4'" : "") + "/>\n";
    for (const OperatingPoint& p : s.points)
      svg += "<circle cx='" + fmt("%.1f", X(xs(p))) + "' cy='" + fmt("%.1f", Y(p.accuracy)) + "' r='2.5' fill='" +
             escape(s.color) + "'/>\n";
  }
  svg += "<text x='" + fmt("%.1f", ox + w / 2) + "' y='" + fmt("%.1f", oy + h + 34) + "' text-anchor='middle'>" +
         escape(xlabel) + "</text>\n";
}

}  // namespace

std::string render_svg(const std::string& title, std::span<const PlotSeries> series, double qw, double qs) {
  const double W = 1000, H = 460;
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + fmt("%.0f", W) + "' height='" + fmt("%.0f", H) +
                    "' viewBox='0 0 " + fmt("%.0f", W) + " " + fmt("%.0f", H) +
                    "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  svg += "<text x='" + fmt("%.0f", W / 2) + "' y='22' text-anchor='middle' font-size='15'>" + escape(title) + "</text>\n";
  panel(svg, 70, 50, 380, 320, "strong-model calls", true, series, qw, qs,
        [](const OperatingPoint& p) { return p.strong_share; });
  panel(svg, 570, 50, 380, 320, "cost (USD, whole evaluation set)", false, series, qw, qs,
        [](const OperatingPoint& p) { return p.cost; });
  svg += "<text x='20' y='215' transform='rotate(-90 20 215)' text-anchor='middle'>accuracy</text>\n";
  double lx = 70;
  for (const PlotSeries& s : series) {
    svg += "<line x1='" + fmt("%.0f", lx) + "' y1='430' x2='" + fmt("%.0f", lx + 24) + "' y2='430' stroke='" +
           escape(s.color) + "' stroke-width='2'" + (s.dashed ? " stroke-dasharray='6,4'" : "") + "/>\n";
    svg += "<text x='" + fmt("%.0f", lx + 30) + "' y='434'>" + escape(s.name) + "</text>\n";
    lx += 40 + 7.0 * static_cast<double>(s.name.size());
  }
  svg += "</svg>\n";
  return svg;
}

std::string_view topic_group(std::string_view g) {
  if (g.starts_with("mmlu_")) g.remove_prefix(5);
  struct Entry {
    std::string_view subject, group;
  };
  static constexpr Entry kTable[] = {
      {"abstract_algebra", "STEM"}, {"anatomy", "other"}, {"astronomy", "STEM"}, {"business_ethics", "other"},
      {"clinical_knowledge", "other"}, {"college_biology", "STEM"}, {"college_chemistry", "STEM"},
      {"college_computer_science", "STEM"}, {"college_mathematics", "STEM"}, {"college_medicine", "other"},
      {"college_physics", "STEM"}, {"computer_security", "STEM"}, {"conceptual_physics", "STEM"},
      {"econometrics", "social sciences"}, {"electrical_engineering", "STEM"}, {"elementary_mathematics", "STEM"},
      {"formal_logic", "humanities"}, {"global_facts", "other"}, {"high_school_biology", "STEM"},
      {"high_school_chemistry", "STEM"}, {"high_school_computer_science", "STEM"},
      {"high_school_european_history", "humanities"}, {"high_school_geography", "social sciences"},
      {"high_school_government_and_politics", "social sciences"}, {"high_school_macroeconomics", "social sciences"},
      {"high_school_mathematics", "STEM"}, {"high_school_microeconomics", "social sciences"},
      {"high_school_physics", "STEM"}, {"high_school_psychology", "social sciences"}, {"high_school_statistics", "STEM"},
      {"high_school_us_history", "humanities"}, {"high_school_world_history", "humanities"}, {"human_aging", "other"},
      {"human_sexuality", "social sciences"}, {"international_law", "humanities"}, {"jurisprudence", "humanities"},
      {"logical_fallacies", "humanities"}, {"machine_learning", "STEM"}, {"management", "other"}, {"marketing", "other"},
      {"medical_genetics", "other"}, {"miscellaneous", "other"}, {"moral_disputes", "humanities"},
      {"moral_scenarios", "humanities"}, {"nutrition", "other"}, {"philosophy", "humanities"},
      {"prehistory", "humanities"}, {"professional_accounting", "other"}, {"professional_law", "humanities"},
      {"professional_medicine", "other"}, {"professional_psychology", "social sciences"},
      {"public_relations", "social sciences"}, {"security_studies", "social sciences"}, {"sociology", "social sciences"},
      {"us_foreign_policy", "social sciences"}, {"virology", "other"}, {"world_religions", "humanities"}};
  for (const Entry& e : kTable)
    if (e.subject == g) return e.group;
  return {};
}

std::vector<HeldOut> held_out_splits(const Dataset& data, bool topic_groups) {
  std::vector<HeldOut> out;
  std::vector<std::string> sources;
  for (const Example& e : data.examples)
    if (std::find(sources.begin(), sources.end(), e.source) == sources.end()) sources.push_back(e.source);
  if (sources.size() >= 2) {
    for (const std::string& s : sources) {
      HeldOut h;
      h.name = s;
      for (std::size_t i = 0; i < data.examples.size(); ++i) (data.examples[i].source == s ? h.test : h.train).push_back(i);
      out.push_back(std::move(h));
    }
  }
  if (topic_groups) {
    for (std::string_view g : {"STEM", "humanities", "social sciences", "other"}) {
      HeldOut h;
      h.name = "mmlu:" + std::string(g);
      h.dataset = false;
      for (std::size_t i = 0; i < data.examples.size(); ++i) (topic_group(data.examples[i].group) == g ? h.test : h.train).push_back(i);
      if (!h.test.empty() && !h.train.empty()) out.push_back(std::move(h));
    }
  }
  return out;
}

Result<bool> run_held_out(const Dataset& data, std::span<const RawFeatures> raw, const TrainOptions& opts,
                          std::vector<HeldOut>& splits, const Progress& progress) {
  TrainOptions o = opts;
  if (o.route_head) o.quality_heads = false;  // only the route score is evaluated
  for (std::size_t k = 0; k < splits.size(); ++k) {
    HeldOut& h = splits[k];
    const std::string stage = "held out " + h.name;
    auto model = train_router(data, h.train, raw, o, [&](std::string_view, double f) {
      if (progress) progress(stage, (static_cast<double>(k) + f) / static_cast<double>(splits.size()));
    });
    if (!model) return std::move(model).error();
    h.scores.clear();
    h.fallbacks = 0;
    for (std::size_t r : h.test) {
      const ScoreDetail d = (*model)->score_detail(raw[r], data.examples[r].prompt.size());
      h.scores.push_back(d.score);
      h.fallbacks += d.fallback ? 1 : 0;
    }
  }
  if (progress) progress("held out", 1.0);
  return true;
}

}  // namespace sy::learn
