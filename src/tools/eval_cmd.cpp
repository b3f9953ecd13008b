// switchyard eval: offline RouteLLM-protocol evaluation of the learned router (README §3, §6).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "learn_cli.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {

using namespace sy::tools::cli;

namespace {

/// `switchyard eval --lodo ROOT`: the out-of-distribution protocol (README §3). Every dataset under ROOT
/// (and every --data source) is held out in turn; then MMLU's topic groups. Prints one row per held-out
/// set with random, prompt-length and oracle baselines, and the worst / mean held-out APGR.
int eval_lodo(const Args& a, TrainOptions opts, const CostModel& costs, std::uint64_t seed, ProgressBar& bar) {
  std::vector<std::string> inputs;
  if (a.get("lodo") != "-") {
    auto found = discover_datasets(a.get("lodo"));
    if (!found) return fail("eval", found.error().message);
    inputs = *found;
  }
  for (const std::string& d : a.list("data")) inputs.push_back(d);
  LoadReport rep;
  auto d = load(a, inputs, rep);
  if (!d) return fail("eval", d.error().message);
  const Dataset& data = *d;
  describe(data, rep);
  auto s = model_arg(data, a, "strong", best_model(data));
  auto w = model_arg(data, a, "weak", worst_model(data));
  if (!s || !w) return fail("eval", !s ? s.error().message : w.error().message);
  opts.strong = *s;
  opts.weak = *w;
  std::vector<HeldOut> splits = held_out_splits(data, !a.has("no-topic-groups"));
  if (splits.empty()) return fail("eval", "--lodo needs at least two sources (datasets) or MMLU topic groups");
  auto raw = extract_all(data, opts.features, bar.callback());
  auto ran = run_held_out(data, raw, opts, splits, bar.callback());
  bar.finish();
  if (!ran) return fail("eval", ran.error().message);

  std::printf("# switchyard eval: out-of-distribution protocol (train on the rest, test on the held-out set)\n");
  std::printf("sources:");
  for (const std::string& in : inputs) std::printf(" %s", in.c_str());
  std::printf("\nstrong %s, weak %s; %zu prompts (%zu contaminated dropped)\n\n", data.models[static_cast<std::size_t>(*s)].c_str(),
              data.models[static_cast<std::size_t>(*w)].c_str(), data.examples.size(), rep.dropped_contaminated);
  std::printf("| %-22s | %-7s | %6s | %-18s | %-18s | %11s | %6s | %8s | %9s |\n", "held out", "kind", "n",
              "learned APGR/CPT50", "length APGR/CPT50", "random APGR", "oracle", "fallback", "vs length");
  std::printf("|------------------------|---------|-------:|--------------------|--------------------|------------:|-------:|---------:|----------:|\n");
  struct Summary {
    double worst = 1e9, sum = 0, len_sum = 0;
    int n = 0, below_length = 0;
  } ds, tg;
  nlohmann::json rows = nlohmann::json::array();
  for (const HeldOut& h : splits) {
    OutcomeTable t = make_outcomes(data, h.test, opts.strong, opts.weak, costs);
    const PairOutcomes po = t.view();
    const RoutingCurve router = evaluate_router(h.scores, po);
    std::vector<double> len;
    for (std::size_t r : h.test) len.push_back(static_cast<double>(data.examples[r].prompt.size()));
    const RoutingCurve lc = evaluate_router(len, po);
    const RoutingCurve rnd = random_curve(po, 10, seed);
    const RoutingCurve orc = oracle_curve(po);
    const double fb = h.test.empty() ? 0 : static_cast<double>(h.fallbacks) / static_cast<double>(h.test.size());
    std::printf("| %-22s | %-7s | %6zu | %5.3f / %5.1f %%   | %5.3f / %5.1f %%   | %11.3f | %6.3f | %6.1f %% | %+9.3f |\n", h.name.c_str(),
                h.dataset ? "dataset" : "topic", h.test.size(), router.apgr, cpt(router, 0.5) * 100, lc.apgr, cpt(lc, 0.5) * 100,
                rnd.apgr, orc.apgr, fb * 100, router.apgr - lc.apgr);
    Summary& sm = h.dataset ? ds : tg;
    sm.worst = std::min(sm.worst, router.apgr);
    sm.sum += router.apgr;
    sm.len_sum += lc.apgr;
    sm.n += 1;
    sm.below_length += router.apgr < lc.apgr ? 1 : 0;
    nlohmann::json j;
    j["held_out"] = h.name;
    j["kind"] = h.dataset ? "dataset" : "topic";
    j["prompts"] = h.test.size();
    j["fallback_share"] = fb;
    j["learned"] = curve_json(router);
    j["length"] = curve_json(lc);
    j["random"] = curve_json(rnd);
    j["oracle"] = curve_json(orc);
    rows.push_back(j);
  }
  auto line = [](const char* what, const Summary& sm) {
    if (sm.n == 0) return;
    std::printf("%s: worst held-out APGR %.3f, mean %.3f (prompt length: mean %.3f); below prompt length on %d of %d\n", what,
                sm.worst, sm.sum / sm.n, sm.len_sum / sm.n, sm.below_length, sm.n);
  };
  std::printf("\n");
  line("datasets (summary)", ds);
  line("topic groups", tg);
  if (a.has("json")) {
    nlohmann::json j;
    j["mode"] = "lodo";
    j["rows"] = rows;
    if (ds.n) j["datasets"] = {{"worst_apgr", ds.worst}, {"mean_apgr", ds.sum / ds.n}, {"below_length", ds.below_length}};
    if (tg.n) j["topic_groups"] = {{"worst_apgr", tg.worst}, {"mean_apgr", tg.sum / tg.n}, {"below_length", tg.below_length}};
    std::ofstream f(a.get("json"));
    f << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int eval_main(int argc, char** argv) {
  if (has_flag(argc, argv, "--cascade")) return eval_cascade_cmd(argc, argv);
  if (has_flag(argc, argv, "--replay")) return replay_main(argc, argv);
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head",
                                    "no-decontaminate", "quiet", "baselines", "no-structure", "no-conversation", "task", "no-task", "no-balance-sources", "no-topic-groups"};
  Args a(argc, argv, {"data", "train", "test", "contaminated"}, bools);
  if (a.help() || argc < 2) {
    std::fputs(
        "usage: switchyard eval --lodo ROOT [--data NAME=FILES...]  out-of-distribution protocol: leave one dataset\n"
        "                    out (every data folder under ROOT, e.g. ../shared/data), then MMLU's topic groups\n"
        "                    (--no-topic-groups to skip); '--lodo -' uses only the --data sources\n"
        "       switchyard eval --data FILES... --cv K          k-fold cross-validation (folds by prompt)\n"
        "       switchyard eval --train FILES... --test FILES...  train on one dataset, test on another\n"
        "       switchyard eval --model MODEL --test FILES...     evaluate a trained model\n"
        "       switchyard eval --cascade --data FILES... [--cv K] cascade with the answer scorer (--cascade --help)\n"
        "  --seed N (fold assignment, default 42)   --strong M --weak M (default best/worst accuracy)\n"
        "  prices (USD per 1M tokens): --config FILE --strong-model NAME --weak-model NAME, or\n"
        "         --strong-price IN[,OUT] --weak-price IN[,OUT] (defaults 10,30 and 0.6,0.6)\n"
        "  --output-tokens N   output tokens when the data has no response text (default 1)\n"
        "  --plot FILE.svg (default eval.svg; 'none' to skip)   --json FILE   --baselines (add prompt length)\n"
        "  training options as for `switchyard train`\n",
        stderr);
    return a.help() ? 0 : 2;
  }
  if (!a.error().empty()) return fail("eval", a.error());
  std::vector<std::string> known = kTrainFlags;
  known.insert(known.end(), kDataFlags.begin(), kDataFlags.end());
  for (const char* k : {"data", "train", "test", "model", "cv", "config", "strong-model", "weak-model", "strong-price",
                        "weak-price", "output-tokens", "plot", "json", "quiet", "baselines", "lodo", "no-topic-groups"})
    known.emplace_back(k);
  if (auto u = a.unknown(known); !u.empty()) return fail("eval", "unknown option " + u.front());
  try {
    auto opts = train_options(a);
    if (!opts) return fail("eval", opts.error().message);
    const auto seed = static_cast<std::uint64_t>(a.num("seed", 42));
    ProgressBar bar(a.has("quiet"));

    // Prices.
    CostModel costs;
    auto prices = resolve_prices(a, costs);
    if (!prices) return fail("eval", prices.error().message);
    const std::string price_source = *prices;
    costs.default_output_tokens = a.num("output-tokens", 1);
    if (a.has("lodo")) return eval_lodo(a, *opts, costs, seed, bar);

    // Data and scores.
    LoadReport rep;
    Dataset test;
    std::vector<double> scores;
    std::string mode;
    std::vector<RoutingCurve> fold_curves;
    int strong = -1, weak = -1;
    if (a.has("cv")) {
      if (!a.has("data")) return fail("eval", "--cv needs --data");
      const int k = static_cast<int>(a.num("cv", 5));
      if (k < 2) return fail("eval", "--cv must be at least 2");
      auto d = load(a, a.list("data"), rep);
      if (!d) return fail("eval", d.error().message);
      test = std::move(*d);
      describe(test, rep);
      auto s = model_arg(test, a, "strong", best_model(test));
      auto w = model_arg(test, a, "weak", worst_model(test));
      if (!s || !w) return fail("eval", !s ? s.error().message : w.error().message);
      strong = opts->strong = *s;
      weak = opts->weak = *w;
      auto raw = extract_all(test, opts->features, bar.callback());
      auto cv = cross_validate(test, raw, *opts, k, seed, bar.callback());
      bar.finish();
      if (!cv) return fail("eval", cv.error().message);
      scores = std::move(cv->scores);
      fold_curves = std::move(cv->fold_curves);
      mode = std::to_string(k) + "-fold cross-validation by prompt (seed " + std::to_string(seed) + ")";
    } else if (a.has("test")) {
      auto d = load(a, a.list("test"), rep);
      if (!d) return fail("eval", d.error().message);
      test = std::move(*d);
      describe(test, rep);
      std::shared_ptr<const LearnedModel> model;
      if (a.has("model")) {
        auto m = LearnedModel::load(a.get("model"));
        if (!m) return fail("eval", m.error().message);
        model = *m;
        mode = "model " + a.get("model");
      } else if (a.has("train")) {
        LoadReport trep;
        auto tr = load(a, a.list("train"), trep);
        if (!tr) return fail("eval", tr.error().message);
        describe(*tr, trep);
        auto s = model_arg(*tr, a, "strong", best_model(*tr));
        auto w = model_arg(*tr, a, "weak", worst_model(*tr));
        if (!s || !w) return fail("eval", !s ? s.error().message : w.error().message);
        opts->strong = *s;
        opts->weak = *w;
        auto raw = extract_all(*tr, opts->features, bar.callback());
        auto m = train_router(*tr, {}, raw, *opts, bar.callback());
        bar.finish();
        if (!m) return fail("eval", m.error().message);
        model = *m;
        mode = "trained on";
        for (const auto& src : a.list("train")) mode += " " + src;
      } else {
        return fail("eval", "--test needs --train or --model");
      }
      // The pair is named by the model (trained or loaded) and must exist in the test data.
      const auto& mm = model->models();
      auto name_or = [&](int i, const std::string& flag) { return a.has(flag) ? a.get(flag) : (i >= 0 ? mm[static_cast<std::size_t>(i)] : ""); };
      strong = test.model_index(name_or(model->strong_model(), "strong"));
      weak = test.model_index(name_or(model->weak_model(), "weak"));
      if (strong < 0 || weak < 0) return fail("eval", "the test data lacks the model pair the router was trained for");
      for (std::size_t i = 0; i < test.examples.size(); ++i) {
        scores.push_back(model->score(test.examples[i].prompt, test.examples[i].conversation));
        if (i % 256 == 0 || i + 1 == test.examples.size())
          bar("scoring", static_cast<double>(i + 1) / static_cast<double>(test.examples.size()));
      }
      bar.finish();
    } else {
      return fail("eval", "give --data with --cv, or --test with --train or --model");
    }

    std::vector<std::size_t> all(test.examples.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    OutcomeTable t = make_outcomes(test, all, strong, weak, costs);
    const PairOutcomes po = t.view();
    RoutingCurve router = evaluate_router(scores, po);
    RoutingCurve rnd = random_curve(po, 10, seed);
    std::vector<RoutingCurve> rnd_runs;
    for (int s = 0; s < 10; ++s) {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(s));
      std::uniform_real_distribution<double> u(0.0, 1.0);
      std::vector<double> r(scores.size());
      for (double& v : r) v = u(rng);
      rnd_runs.push_back(evaluate_router(r, po));
    }
    RoutingCurve orc = oracle_curve(po);

    std::printf("# switchyard eval: %s\n", mode.c_str());
    std::printf("test data: %zu prompts (%zu contaminated dropped); strong %s %.2f %%, weak %s %.2f %%\n",
                test.examples.size(), rep.dropped_contaminated, test.models[static_cast<std::size_t>(strong)].c_str(),
                router.strong_accuracy * 100, test.models[static_cast<std::size_t>(weak)].c_str(),
                router.weak_accuracy * 100);
    std::printf("prices (%s), USD per 1M tokens in/out: strong %.3g/%.3g, weak %.3g/%.3g\n\n", price_source.c_str(),
                costs.strong.input_per_m, costs.strong.output_per_m, costs.weak.input_per_m, costs.weak.output_per_m);
    std::vector<Row> rows;
    rows.push_back(row_of(fold_curves.empty() ? "learned" : "learned (pooled out-of-fold scores)", router));
    if (!fold_curves.empty()) {
      Row m{"learned (mean of per-fold results)", 0, 0, 0, 0};
      for (const RoutingCurve& c : fold_curves) {
        m.apgr += c.apgr / static_cast<double>(fold_curves.size());
        m.cpt20 += cpt(c, 0.2) / static_cast<double>(fold_curves.size());
        m.cpt50 += cpt(c, 0.5) / static_cast<double>(fold_curves.size());
        m.cpt80 += cpt(c, 0.8) / static_cast<double>(fold_curves.size());
      }
      rows.push_back(m);
    }
    RoutingCurve len_curve;
    if (a.has("baselines")) {
      std::vector<double> len;
      for (const Example& e : test.examples) len.push_back(static_cast<double>(e.prompt.size()));
      len_curve = evaluate_router(len, po);
      rows.push_back(row_of("prompt length (baseline)", len_curve));
    }
    Row rr{"random (mean of 10 seeds)", rnd.apgr, mean_cpt(rnd_runs, 0.2), mean_cpt(rnd_runs, 0.5), mean_cpt(rnd_runs, 0.8)};
    rows.push_back(rr);
    rows.push_back(row_of("oracle", orc));
    print_rows(rows);
    if (!fold_curves.empty()) {
      double m = 0, sq = 0, lo = 1e9, hi = -1e9;
      for (const RoutingCurve& c : fold_curves) {
        m += c.apgr;
        sq += c.apgr * c.apgr;
        lo = std::min(lo, c.apgr);
        hi = std::max(hi, c.apgr);
      }
      const double n = static_cast<double>(fold_curves.size());
      m /= n;
      std::printf("\nper-fold APGR: mean %.3f, sd %.3f, range %.3f..%.3f\n", m, std::sqrt(std::max(0.0, sq / n - m * m)), lo, hi);
    }
    std::printf("\noperating points (learned router; random = mean of 10 seeds at the same edge):\n");
    std::printf("| %10s | %8s | %8s | %10s | %12s | %12s | %10s | %10s |\n", "threshold", "strong %", "accuracy",
                "cost $", "in tokens", "out tokens", "random acc", "random $");
    std::printf("|-----------:|---------:|---------:|-----------:|-------------:|-------------:|-----------:|-----------:|\n");
    for (std::size_t i = router.points.size(); i-- > 0;) {
      const OperatingPoint& p = router.points[i];
      const OperatingPoint& r = rnd.points[i];
      std::printf("| %10.5f | %6.1f %% | %6.2f %% | %10.4f | %12.0f | %12.0f | %8.2f %% | %10.4f |\n", p.threshold,
                  p.strong_share * 100, p.accuracy * 100, p.cost, p.input_tokens, p.output_tokens, r.accuracy * 100,
                  r.cost);
    }
    std::printf("\noracle: all weak %.2f %% ($%.4f) -> %.1f %% strong calls reach %.2f %% ($%.4f); all strong %.2f %% ($%.4f)\n",
                orc.points.front().accuracy * 100, orc.points.front().cost, orc.points[1].strong_share * 100,
                orc.points[1].accuracy * 100, orc.points[1].cost, orc.points.back().accuracy * 100, orc.points.back().cost);
    const double c50 = cpt(router, 0.5);
    std::printf("at CPT(50%%) the router makes %.1f %% strong calls where random needs %.1f %%: %.0f %% fewer strong calls\n",
                c50 * 100, rr.cpt50 * 100, rr.cpt50 > 0 ? (1 - c50 / rr.cpt50) * 100 : 0.0);

    const std::string plot = a.get("plot", "eval.svg");
    if (plot != "none") {
      std::vector<PlotSeries> series = {{"learned router", "#d62728", router.points, false},
                                        {"random (10 seeds)", "#7f7f7f", rnd.points, true},
                                        {"oracle", "#2ca02c", orc.points, true}};
      if (a.has("baselines")) series.push_back({"prompt length", "#1f77b4", len_curve.points, true});
      std::ofstream f(plot);
      f << render_svg("switchyard eval: " + mode, series, router.weak_accuracy, router.strong_accuracy);
      if (!f) return fail("eval", "cannot write " + plot);
      std::printf("plot: %s\n", plot.c_str());
    }
    if (a.has("json")) {
      nlohmann::json j = {{"mode", mode},
                          {"prompts", test.examples.size()},
                          {"strong_accuracy", router.strong_accuracy},
                          {"weak_accuracy", router.weak_accuracy},
                          {"router", curve_json(router)},
                          {"random", curve_json(rnd)},
                          {"oracle", curve_json(orc)}};
      j["random"]["cpt50"] = rr.cpt50;
      if (!fold_curves.empty()) {
        nlohmann::json folds = nlohmann::json::array();
        for (const RoutingCurve& c : fold_curves) folds.push_back(curve_json(c));
        j["folds"] = folds;
      }
      std::ofstream f(a.get("json"));
      f << j.dump(2) << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    return fail("eval", e.what());
  }
}

}  // namespace sy::tools
