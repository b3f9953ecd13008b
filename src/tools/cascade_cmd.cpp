// switchyard train --answer-scorer and switchyard eval --cascade: the cascade's answer scorer (README §7).
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
#include "switchyard/answer/heuristics.hpp"
#include "switchyard/learn/answer_scorer.hpp"
#include "switchyard/learn/calibrate.hpp"
#include "switchyard/learn/cascade.hpp"

namespace sy::tools::cli {
namespace {

const std::vector<std::string> kScorerFlags = {"scorer-l2", "scorer-hash-bits", "scorer-word-ngrams", "scorer-char-ngrams",
                                               "no-prompt-ngrams", "no-answer-ngrams", "no-verifier", "no-answer-dense",
                                               "verifier-scale", "scorer-l2-grid", "boost", "boost-rounds",
                                               "boost-depth", "boost-shrinkage", "boost-l2", "boost-min-hessian",
                                               "inner-folds", "scorer-gap-reference"};
const std::vector<std::string> kScorerBools = {"no-prompt-ngrams", "no-answer-ngrams", "no-verifier", "no-answer-dense",
                                               "boost"};

Result<AnswerScorerOptions> scorer_options(const Args& a) {
  AnswerScorerOptions o;
  o.features.text.hash_bits = static_cast<int>(a.num("scorer-hash-bits", 18));
  o.features.text.word_ngram_max = static_cast<int>(a.num("scorer-word-ngrams", 2));
  o.features.text.dense = !a.has("no-answer-dense");
  if (a.has("scorer-char-ngrams")) {
    int lo = 0, hi = 0;
    const std::string c = a.get("scorer-char-ngrams");
    if (c != "0" && std::sscanf(c.c_str(), "%d-%d", &lo, &hi) != 2)
      return Error::bad_request("--scorer-char-ngrams wants MIN-MAX or 0");
    o.features.text.char_ngram_min = lo;
    o.features.text.char_ngram_max = hi;
  }
  o.features.prompt_ngrams = !a.has("no-prompt-ngrams");
  o.features.answer_ngrams = !a.has("no-answer-ngrams");
  o.features.verifier = !a.has("no-verifier");
  o.logistic.l2 = a.has("scorer-l2") && a.get("scorer-l2") != "auto" ? a.num("scorer-l2", 0) : 0;
  o.verifier_scale = a.num("verifier-scale", 1.0);
  o.threshold = a.num("threshold", 0.5);
  if (a.has("scorer-l2-grid")) {
    std::stringstream ss(a.get("scorer-l2-grid"));
    for (std::string item; std::getline(ss, item, ',');) {
      char* end = nullptr;
      const double v = std::strtod(item.c_str(), &end);
      if (end == item.c_str() || *end != '\0' || !(v > 0)) return Error::bad_request("--scorer-l2-grid wants positive numbers A,B,...");
      o.l2_grid.push_back(v);
    }
  }
  o.boosted = a.has("boost");
  o.boost.rounds = static_cast<int>(a.num("boost-rounds", o.boost.rounds));
  o.boost.depth = static_cast<int>(a.num("boost-depth", o.boost.depth));
  o.boost.shrinkage = a.num("boost-shrinkage", o.boost.shrinkage);
  o.boost.l2 = a.num("boost-l2", o.boost.l2);
  o.boost.min_hessian = a.num("boost-min-hessian", o.boost.min_hessian);
  o.inner_folds = static_cast<int>(a.num("inner-folds", o.inner_folds));
  // Resolved to a model index by the caller (needs the data).
  o.gap_reference = a.has("scorer-gap-reference") ? -2 : -1;
  if (o.boost.rounds < 1 || o.boost.depth < 1 || o.boost.depth > 8 || o.inner_folds < 2)
    return Error::bad_request("--boost-rounds >= 1, --boost-depth 1..8 and --inner-folds >= 2");
  return o;
}

/// Resolves --scorer-gap-reference MODEL (scorer_options marks it with -2) to a model index.
Result<bool> resolve_gap_reference(const Dataset& d, const Args& a, AnswerScorerOptions& o) {
  if (o.gap_reference != -2) return true;
  o.gap_reference = d.model_index(a.get("scorer-gap-reference"));
  if (o.gap_reference < 0)
    return Error::bad_request("--scorer-gap-reference: no score column '" + a.get("scorer-gap-reference") + "' in the data");
  return true;
}

/// Area under the ROC curve of `score` for `label` (ties count half).
double roc_auc(std::span<const double> score, std::span<const float> label) {
  std::vector<std::size_t> idx(score.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return score[x] < score[y]; });
  double pos = 0, neg = 0, rank_sum = 0;
  for (std::size_t k = 0; k < idx.size();) {
    std::size_t j = k;
    while (j < idx.size() && score[idx[j]] == score[idx[k]]) ++j;
    const double mid = 0.5 * static_cast<double>(k + j - 1) + 1.0;  // average 1-based rank of the tie block
    for (std::size_t t = k; t < j; ++t)
      if (label[idx[t]] >= 0.5f) rank_sum += mid;
    k = j;
  }
  for (float l : label) (l >= 0.5f ? pos : neg) += 1;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/// Resolves the answer/label columns of `train --answer-scorer` to one model index.
Result<int> scorer_model(const Dataset& d, const Args& a) {
  int label = worst_model(d);
  if (a.has("label-column")) {
    label = d.model_index(a.get("label-column"));
    if (label < 0) return Error::bad_request("--label-column: no score column '" + a.get("label-column") + "' in the data");
  }
  if (a.has("answer-column")) {
    std::string col = a.get("answer-column");
    const std::string suffix = "_response";
    if (col.size() <= suffix.size() || col.compare(col.size() - suffix.size(), suffix.size(), suffix) != 0)
      return Error::bad_request("--answer-column must name a '<model>_response' column");
    const int m = d.model_index(col.substr(0, col.size() - suffix.size()));
    if (m < 0) return Error::bad_request("--answer-column: no model '" + col.substr(0, col.size() - suffix.size()) + "'");
    if (a.has("label-column") && m != label)
      return Error::bad_request("--answer-column and --label-column must belong to the same model");
    label = m;
  }
  if (label < 0) return Error::bad_request("no model to score");
  return label;
}

}  // namespace

int train_answer_scorer_cmd(int argc, char** argv) {

  std::vector<std::string> bools = kScorerBools;
  for (const char* b : {"answer-scorer", "no-decontaminate", "quiet"}) bools.emplace_back(b);
  Args a(argc, argv, {"data", "contaminated"}, bools);
  if (a.help()) {
    std::fputs(
        "usage: switchyard train --answer-scorer --data FILE... --out SCORER [options]\n"
        "  learns P(answer correct | prompt, answer) for the cascade (see src/learn/README.md, Cascade)\n"
        "  --answer-column M_response   the answers to judge (default: the weakest model's)\n"
        "  --label-column M             True/False or [0,1] correctness of those answers\n"
        "  --threshold T                acceptance threshold stored in the file (default 0.5)\n"
        "  --scorer-l2 X|auto  --scorer-hash-bits N  --scorer-word-ngrams N  --scorer-char-ngrams MIN-MAX\n"
        "  --no-prompt-ngrams  --no-answer-ngrams  --no-answer-dense  --no-verifier  --verifier-scale S\n"
        "  --scorer-l2-grid A,B,..       pick the L2 by inner CV on the training rows\n"
        "  --boost                       boosted trees over the verifier features on the linear logit (inner CV)\n"
        "  --boost-rounds N (max, 100)  --boost-depth D (2)  --boost-shrinkage S (0.1)  --boost-l2 L (1)\n"
        "  --boost-min-hessian H (5)  --inner-folds K (5)\n"
        "  --scorer-gap-reference M      train on (1 + q_answer - q_M) / 2 instead of q_answer\n",
        stderr);
    return 0;
  }
  if (!a.error().empty()) return fail("train", a.error());
  std::vector<std::string> known = kScorerFlags;
  known.insert(known.end(), kDataFlags.begin(), kDataFlags.end());
  for (const char* k : {"answer-scorer", "data", "out", "answer-column", "label-column", "threshold", "quiet"})
    known.emplace_back(k);
  if (auto u = a.unknown(known); !u.empty()) return fail("train", "unknown option " + u.front() + " (with --answer-scorer)");
  if (!a.has("data")) return fail("train", "--data is required");
  if (!a.has("out")) return fail("train", "--out is required");
  try {
    auto opts = scorer_options(a);
    if (!opts) return fail("train", opts.error().message);
    LoadReport rep;
    auto data = load(a, a.list("data"), rep);
    if (!data) return fail("train", data.error().message);
    describe(*data, rep);
    auto model = scorer_model(*data, a);
    if (!model) return fail("train", model.error().message);
    if (auto g = resolve_gap_reference(*data, a, *opts); !g) return fail("train", g.error().message);
    const std::vector<std::size_t> rows = answer_rows(*data, *model);
    if (rows.empty())
      return fail("train", "no rows with both a response and a score for '" + data->models[static_cast<std::size_t>(*model)] + "'");
    ProgressBar bar(a.has("quiet"));
    const auto t0 = std::chrono::steady_clock::now();
    auto raw = extract_answer_features(*data, *model, opts->features, bar.callback());
    auto scorer = train_answer_scorer(*data, *model, rows, raw, *opts, bar.callback());
    bar.finish();
    if (!scorer) return fail("train", scorer.error().message);
    AnswerScorerParts parts = (*scorer)->parts();
    std::ostringstream notes;
    notes << "answers of " << parts.model << ", " << rows.size() << " rows from";
    for (const auto& src : data->sources) notes << ' ' << src;
    parts.notes = notes.str();
    auto final_scorer = AnswerScorer::from_parts(std::move(parts));
    if (!final_scorer) return fail("train", final_scorer.error().message);
    if (auto saved = (*final_scorer)->save(a.get("out")); !saved) return fail("train", saved.error().message);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string& gap = (*final_scorer)->parts().gap_reference;
    std::printf("wrote %s: answer scorer for %s, %zu rows (%s %.1f %%), threshold %.3f (%.1f s)\n",
                a.get("out").c_str(), (*final_scorer)->model_name().c_str(), rows.size(),
                gap.empty() ? "correct" : ("mean gap target vs " + gap + ":").c_str(),
                (*final_scorer)->parts().base_rate * 100, (*final_scorer)->default_threshold(), secs);
    std::printf("linear block l2 %.3g; %zu boosted trees\n", (*final_scorer)->parts().l2, (*final_scorer)->parts().boost.trees().size());
    // Serving-side check: load the file back, time score() on every training pair.
    using clock = std::chrono::steady_clock;
    const auto l0 = clock::now();
    auto loaded = AnswerScorer::load(a.get("out"));
    const double load_ms = std::chrono::duration<double, std::milli>(clock::now() - l0).count();
    if (!loaded) return fail("train", "reloading the scorer failed: " + loaded.error().message);
    const auto m = static_cast<std::size_t>(*model);
    std::vector<double> us, p;
    std::vector<float> y;
    for (std::size_t r : rows) {
      const Example& e = data->examples[r];
      const auto s0 = clock::now();
      p.push_back((*loaded)->score(e.prompt, e.response[m]));
      us.push_back(std::chrono::duration<double, std::micro>(clock::now() - s0).count());
      y.push_back(e.quality[m]);
    }
    std::sort(us.begin(), us.end());
    std::printf("load %.1f ms; score() over %zu pairs: p50 %.1f us, p99 %.1f us; in-sample AUC %.3f (use eval --cascade for held-out numbers)\n",
                load_ms, us.size(), us[us.size() / 2], us[us.size() * 99 / 100], roc_auc(p, y));
    return 0;
  } catch (const std::exception& e) {
    return fail("train", e.what());
  }
}

namespace {

/// A line of the cascade table.
struct CascadeRow {
  std::string name;
  std::vector<double> scores;          ///< per prompt, higher = escalate / route strong
  const OutcomeTable* table = nullptr;  ///< outcomes the scores are evaluated on
  RoutingCurve curve;
  std::vector<OperatingPoint> sweep;
  double fold_apgr_mean = 0, fold_apgr_sd = 0;
};

void fold_stats(const std::vector<std::vector<std::size_t>>& folds, std::span<const double> scores, const OutcomeTable& t,
                double& mean, double& sd) {
  double s = 0, sq = 0;
  for (const auto& f : folds) {
    std::vector<double> fs;
    OutcomeTable ft;
    for (std::size_t r : f) {
      fs.push_back(scores[r]);
      ft.weak_quality.push_back(t.weak_quality[r]);
      ft.strong_quality.push_back(t.strong_quality[r]);
    }
    const double ap = evaluate_router(fs, ft.view()).apgr;
    s += ap;
    sq += ap * ap;
  }
  const double n = static_cast<double>(std::max<std::size_t>(folds.size(), 1));
  mean = s / n;
  sd = std::sqrt(std::max(0.0, sq / n - mean * mean));
}

}  // namespace

int eval_cascade_cmd(int argc, char** argv) {
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head",
                                    "no-decontaminate", "quiet", "cascade"};
  bools.insert(bools.end(), kScorerBools.begin(), kScorerBools.end());
  Args a(argc, argv, {"data", "contaminated"}, bools);
  if (a.help()) {
    std::fputs(
        "usage: switchyard eval --cascade --data FILE... [--cv K] [options]\n"
        "  k-fold CV (folds by prompt) of a cascade: the weak model answers every prompt, the learned answer\n"
        "  scorer (trained on the other folds) judges the answer, the strong model is called when rejected.\n"
        "  Compared with the prompt-only learned router on the same folds and with always-strong.\n"
        "  --cv K (default 5)  --seed N (default 42)  --tolerance T (accuracy points below strong, default 0.02)\n"
        "  --heuristic-weight W (default 0.3): combined score = (1-W) scorer + W heuristics\n"
        "  prices: --config FILE [--strong-model NAME --weak-model NAME] (default: the data's model names),\n"
        "          or --strong-price IN[,OUT] --weak-price IN[,OUT]\n"
        "  --plot FILE.svg (default cascade.svg; 'none')  --json FILE\n"
        "  --scores FILE.jsonl   per-prompt out-of-fold scores (p_correct, heuristics, route score, outcomes)\n"
        "  router options as for `switchyard train`; scorer options as for `train --answer-scorer`\n",
        stderr);
    return 0;
  }
  if (!a.error().empty()) return fail("eval", a.error());
  std::vector<std::string> known = kTrainFlags;
  known.insert(known.end(), kDataFlags.begin(), kDataFlags.end());
  known.insert(known.end(), kScorerFlags.begin(), kScorerFlags.end());
  for (const char* k : {"cascade", "data", "cv", "config", "strong-model", "weak-model", "strong-price", "weak-price",
                        "plot", "json", "quiet", "tolerance", "heuristic-weight", "scores"})
    known.emplace_back(k);
  if (auto u = a.unknown(known); !u.empty()) return fail("eval", "unknown option " + u.front() + " (with --cascade)");
  if (!a.has("data")) return fail("eval", "--cascade needs --data (with response texts of the weak model)");
  try {
    const auto t_start = std::chrono::steady_clock::now();
    auto ropts = train_options(a, /*in_distribution_recipe=*/true);
    if (!ropts) return fail("eval", ropts.error().message);
    auto sopts = scorer_options(a);
    if (!sopts) return fail("eval", sopts.error().message);
    const auto seed = static_cast<std::uint64_t>(a.num("seed", 42));
    const int k = static_cast<int>(a.num("cv", 5));
    if (k < 2) return fail("eval", "--cv must be at least 2");
    const double tolerance = a.num("tolerance", 0.02);
    const double hw = std::clamp(a.num("heuristic-weight", 0.3), 0.0, 1.0);
    ProgressBar bar(a.has("quiet"));

    LoadReport rep;
    auto d = load(a, a.list("data"), rep);
    if (!d) return fail("eval", d.error().message);
    Dataset& data = *d;
    describe(data, rep);
    auto s = model_arg(data, a, "strong", best_model(data));
    auto w = model_arg(data, a, "weak", worst_model(data));
    if (!s || !w) return fail("eval", !s ? s.error().message : w.error().message);
    const int strong = ropts->strong = *s;
    const int weak = ropts->weak = *w;
    if (auto g = resolve_gap_reference(data, a, *sopts); !g) return fail("eval", g.error().message);
    const auto wi = static_cast<std::size_t>(weak), si = static_cast<std::size_t>(strong);
    const std::vector<std::size_t> usable = answer_rows(data, weak);
    if (usable.size() != data.examples.size())
      return fail("eval", std::to_string(data.examples.size() - usable.size()) + " of " + std::to_string(data.examples.size()) +
                              " rows lack a '" + data.models[wi] + "_response' text or score; the cascade needs every one");

    // Prices: the config's deployments of the two models (names default to the data's column names).
    CostModel costs;
    auto prices = resolve_prices(a, costs, data.models[si], data.models[wi]);
    if (!prices) return fail("eval", prices.error().message);
    const std::string price_source = *prices;

    // 1. The prompt-only learned router: the existing CV on the same folds.
    const auto folds = folds_by_prompt(data, k, seed);
    auto raw = extract_all(data, ropts->features, bar.callback());
    auto rcv = cross_validate(data, raw, *ropts, k, seed, bar.callback());
    if (!rcv) return fail("eval", rcv.error().message);
    if (rcv->folds != folds) return fail("eval", "internal: router folds differ from the cascade folds");
    // P(strong right | prompt) per fold, for the expected-gain variant.
    std::vector<double> q_strong(data.examples.size(), 0.0), q_strong_if_weak_wrong(data.examples.size(), 0.0),
        q_strong_if_weak_right(data.examples.size(), 0.0);
    {
      TrainOptions qo = *ropts;
      qo.route_head = false;
      qo.quality_heads = true;
      for (std::size_t f = 0; f < folds.size(); ++f) {
        std::vector<std::size_t> train;
        for (std::size_t g = 0; g < folds.size(); ++g)
          if (g != f) train.insert(train.end(), folds[g].begin(), folds[g].end());
        std::sort(train.begin(), train.end());
        auto qm = train_router(data, train, raw, qo);
        if (!qm) return fail("eval", qm.error().message);
        for (std::size_t r : folds[f]) q_strong[r] = (*qm)->predict_quality(data.examples[r].prompt)[si];
        // P(strong right | prompt) given that the weak answer is wrong / right: the strong model's heads
        // trained on the training rows where the weak model failed / succeeded.
        for (int cond = 0; cond < 2; ++cond) {
          std::vector<std::size_t> sub;
          for (std::size_t r : train)
            if ((data.examples[r].quality[wi] >= 0.5f) == (cond == 1)) sub.push_back(r);
          auto cm = train_router(data, sub, raw, qo);
          if (!cm) return fail("eval", cm.error().message);
          for (std::size_t r : folds[f])
            (cond ? q_strong_if_weak_right : q_strong_if_weak_wrong)[r] = (*cm)->predict_quality(data.examples[r].prompt)[si];
        }
        bar("strong quality heads", static_cast<double>(f + 1) / static_cast<double>(folds.size()));
      }
    }
    // 2. The answer scorer, same folds.
    auto araw = extract_answer_features(data, weak, sopts->features, bar.callback());
    auto scv = cross_validate_answer_scorer(data, weak, araw, *sopts, folds, bar.callback());
    bar.finish();
    if (!scv) return fail("eval", scv.error().message);

    // 3. Scores: higher = escalate.
    const std::size_t n = data.examples.size();
    std::vector<double> s_scorer(n), s_heur(n), s_comb(n), s_gain(n), s_cgain(n);
    std::vector<float> weak_right(n);
    std::size_t heur_flagged = 0;
    answer::AnswerExpectations expect;
    expect.final_answer = true;
    for (std::size_t i = 0; i < n; ++i) {
      const double p = scv->p_correct[i];
      const double h = answer::check_answer(data.examples[i].response[wi], expect).score;
      heur_flagged += h < 1.0;
      s_scorer[i] = 1.0 - p;
      s_heur[i] = 1.0 - h;
      s_comb[i] = 1.0 - ((1.0 - hw) * p + hw * h);
      s_gain[i] = q_strong[i] - p;
      // E[strong right - weak right | prompt, answer] without assuming the two independent.
      s_cgain[i] = (1.0 - p) * q_strong_if_weak_wrong[i] - p * (1.0 - q_strong_if_weak_right[i]);
      weak_right[i] = data.examples[i].quality[wi];
    }

    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    const OutcomeTable pair = make_outcomes(data, all, strong, weak, costs);
    const OutcomeTable casc = cascade_outcomes(pair);
    std::vector<CascadeRow> rows;
    auto add_row = [&](std::string name, std::span<const double> scores, const OutcomeTable& t) {
      CascadeRow r;
      r.name = std::move(name);
      r.scores.assign(scores.begin(), scores.end());
      r.table = &t;
      r.curve = evaluate_router(scores, t.view());
      r.sweep = sweep_thresholds(scores, t.view());
      fold_stats(folds, scores, t, r.fold_apgr_mean, r.fold_apgr_sd);
      rows.push_back(std::move(r));
    };
    add_row("cascade, learned answer scorer", s_scorer, casc);
    char wname[64];
    std::snprintf(wname, sizeof wname, "cascade, scorer + heuristics (w=%.2f)", hw);
    add_row(wname, s_comb, casc);
    add_row("cascade, heuristics only", s_heur, casc);
    add_row("cascade, expected gain P(s|prompt)-P(w|answer)", s_gain, casc);
    add_row("cascade, conditional gain (w right/wrong heads)", s_cgain, casc);
    const std::size_t router_row = rows.size();  // rows before it: the cascades; after it: the baselines
    add_row("prompt-only learned router", rcv->scores, pair);
    std::vector<double> len(n);
    for (std::size_t i = 0; i < n; ++i) len[i] = static_cast<double>(data.examples[i].prompt.size());
    add_row("prompt length router", len, pair);
    const RoutingCurve rnd = random_curve(pair.view(), 10, seed);
    const RoutingCurve orc = oracle_curve(pair.view());

    const double qs = rows[0].curve.strong_accuracy, qw = rows[0].curve.weak_accuracy;
    double strong_cost = 0, weak_cost = 0;
    for (std::size_t i = 0; i < n; ++i) {
      strong_cost += pair.strong_cost[i];
      weak_cost += pair.weak_cost[i];
    }
    const double target = qs - tolerance;

    std::printf("# switchyard eval --cascade: %d-fold cross-validation by prompt (seed %llu)\n", k,
                static_cast<unsigned long long>(seed));
    std::printf("data: %zu prompts (%zu contaminated dropped); strong %s %.2f %%, weak %s %.2f %%\n", n,
                rep.dropped_contaminated, data.models[si].c_str(), qs * 100, data.models[wi].c_str(), qw * 100);
    std::printf("prices (%s), USD per 1M tokens in/out: strong %.3g/%.3g, weak %.3g/%.3g; tokens = bytes/4 of prompt and answer\n",
                price_source.c_str(), costs.strong.input_per_m, costs.strong.output_per_m, costs.weak.input_per_m,
                costs.weak.output_per_m);
    std::vector<double> neg_heur(n);
    for (std::size_t i = 0; i < n; ++i) neg_heur[i] = -s_heur[i];
    std::printf("answer scorer: out-of-fold AUC %.3f for \"weak answer correct\"; heuristics flag %zu of %zu answers (AUC %.3f)\n",
                roc_auc(scv->p_correct, weak_right), heur_flagged, n, roc_auc(neg_heur, weak_right));
    std::printf("always strong: %.2f %% at $%.4f; always weak: %.2f %% at $%.4f (%.1f %% of always-strong)\n\n", qs * 100,
                strong_cost, qw * 100, weak_cost, weak_cost / strong_cost * 100);

    std::printf("| %-48s | %6s | %13s | %8s | %8s | %8s | %27s |\n", "verifier / router", "APGR", "fold mean (sd)",
                "CPT(20%)", "CPT(50%)", "CPT(80%)", "acc >= strong - tol");
    std::printf("|%s|-------:|--------------:|---------:|---------:|---------:|----------------------------:|\n",
                std::string(50, '-').c_str());
    std::vector<std::optional<OperatingPoint>> at_target;
    for (const CascadeRow& r : rows) {
      auto t = cheapest_reaching(r.sweep, target);
      at_target.push_back(t);
      char reach[64];
      if (t) std::snprintf(reach, sizeof reach, "%5.1f %% strong, cost %5.1f %%", t->strong_share * 100, t->cost / strong_cost * 100);
      else std::snprintf(reach, sizeof reach, "not reached");
      std::printf("| %-48s | %6.3f | %6.3f (%.3f) | %6.1f %% | %6.1f %% | %6.1f %% | %27s |\n", r.name.c_str(), r.curve.apgr,
                  r.fold_apgr_mean, r.fold_apgr_sd, cpt(r.curve, 0.2) * 100, cpt(r.curve, 0.5) * 100, cpt(r.curve, 0.8) * 100,
                  reach);
    }
    std::printf("| %-48s | %6.3f | %13s | %6.1f %% | %6.1f %% | %6.1f %% | %27s |\n", "random (10 seeds)", rnd.apgr, "",
                cpt(rnd, 0.2) * 100, cpt(rnd, 0.5) * 100, cpt(rnd, 0.8) * 100, "");
    std::printf("| %-48s | %6.3f | %13s | %6.1f %% | %6.1f %% | %6.1f %% | %27s |\n", "oracle (prompt-level)", orc.apgr, "",
                cpt(orc, 0.2) * 100, cpt(orc, 0.5) * 100, cpt(orc, 0.8) * 100, "");
    // The same operating point with its threshold chosen without the held-out fold's labels: on each
    // fold, the threshold that reaches the target on the other folds' out-of-fold scores.
    auto held_out_target = [&](std::span<const double> scores, const OutcomeTable& t) {
      OperatingPoint total;
      double acc = 0, strong_calls = 0;
      for (std::size_t f = 0; f < folds.size(); ++f) {
        std::vector<double> os;
        OutcomeTable ot;
        for (std::size_t g = 0; g < folds.size(); ++g) {
          if (g == f) continue;
          for (std::size_t r : folds[g]) {
            os.push_back(scores[r]);
            ot.weak_quality.push_back(t.weak_quality[r]);
            ot.strong_quality.push_back(t.strong_quality[r]);
          }
        }
        double qs_other = 0;
        for (float q : ot.strong_quality) qs_other += q;
        qs_other /= static_cast<double>(std::max<std::size_t>(ot.strong_quality.size(), 1));
        const auto sw = sweep_thresholds(os, ot.view());
        const auto pick = cheapest_reaching(sw, qs_other - tolerance);
        const double th = pick ? pick->threshold : -std::numeric_limits<double>::infinity();
        for (std::size_t r : folds[f]) {
          const bool up = scores[r] >= th;
          strong_calls += up;
          acc += up ? t.strong_quality[r] : t.weak_quality[r];
          total.cost += up ? t.strong_cost[r] : t.weak_cost[r];
        }
      }
      total.strong_share = strong_calls / static_cast<double>(n);
      total.accuracy = acc / static_cast<double>(n);
      return total;
    };
    std::printf("\nthreshold chosen on the other folds (per fold, the cheapest threshold reaching strong - tol there):\n");
    for (const CascadeRow& r : rows) {
      const OperatingPoint p = held_out_target(r.scores, *r.table);
      std::printf("  %-48s %5.1f %% strong calls, accuracy %.2f %%, cost %5.1f %% of always-strong\n", r.name.c_str(),
                  p.strong_share * 100, p.accuracy * 100, p.cost / strong_cost * 100);
    }
    std::printf("\n\"acc >= strong - tol\": the fewest strong calls (finest threshold sweep over the pooled out-of-fold scores)\n"
                "with accuracy >= %.2f %% (strong %.2f %% - %.1f points); cost as %% of always-strong, cheap call counted on every\n"
                "prompt for the cascades.\n", target * 100, qs * 100, tolerance * 100);

    for (std::size_t r : {std::size_t{0}, router_row}) {
      const CascadeRow& row = rows[r];
      std::printf("\noperating points, %s (quantile edges of its scores):\n", row.name.c_str());
      std::printf("| %10s | %8s | %8s | %10s | %14s | %12s | %12s |\n", "threshold", "strong %", "accuracy", "cost $",
                  "vs always-strong", "in tokens", "out tokens");
      std::printf("|-----------:|---------:|---------:|-----------:|-----------------:|-------------:|-------------:|\n");
      for (std::size_t i = row.curve.points.size(); i-- > 0;) {
        const OperatingPoint& p = row.curve.points[i];
        std::printf("| %10.5f | %6.1f %% | %6.2f %% | %10.4f | %14.1f %% | %12.0f | %12.0f |\n", p.threshold, p.strong_share * 100,
                    p.accuracy * 100, p.cost, p.cost / strong_cost * 100, p.input_tokens, p.output_tokens);
      }
    }
    {
      // Best accuracy the scorer cascade reaches, and where.
      const auto& sw = rows[0].sweep;
      auto best = std::max_element(sw.begin(), sw.end(), [](const OperatingPoint& x, const OperatingPoint& y) {
        return x.accuracy < y.accuracy || (x.accuracy == y.accuracy && x.strong_share > y.strong_share);
      });
      std::printf("\nbest accuracy of the scorer cascade: %.2f %% at %.1f %% strong calls (threshold P(correct) < %.4f), cost %.1f %% of always-strong\n",
                  best->accuracy * 100, best->strong_share * 100, 1.0 - best->threshold, best->cost / strong_cost * 100);
      if (at_target[0] && at_target[router_row])
        std::printf("at accuracy >= %.2f %%: cascade $%.4f vs prompt-only router $%.4f vs always-strong $%.4f\n", target * 100,
                    at_target[0]->cost, at_target[router_row]->cost, strong_cost);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("(%.1f s)\n", secs);

    if (a.has("scores")) {
      std::ofstream f(a.get("scores"));
      for (std::size_t i = 0; i < n; ++i) {
        nlohmann::json j = {{"row", i},
                            {"p_correct", scv->p_correct[i]},
                            {"heuristics", 1.0 - s_heur[i]},
                            {"route_score", rcv->scores[i]},
                            {"p_strong", q_strong[i]},
                            {"p_strong_if_weak_wrong", q_strong_if_weak_wrong[i]},
                            {"p_strong_if_weak_right", q_strong_if_weak_right[i]},
                            {"weak_right", pair.weak_quality[i]},
                            {"strong_right", pair.strong_quality[i]},
                            {"prompt", data.examples[i].prompt}};
        f << j.dump() << "\n";
      }
      if (!f) return fail("eval", "cannot write " + a.get("scores"));
    }
    const std::string plot = a.get("plot", "cascade.svg");
    if (plot != "none") {
      OperatingPoint all_strong;
      all_strong.strong_share = 1;
      all_strong.accuracy = qs;
      all_strong.cost = strong_cost;
      std::vector<PlotSeries> series = {{"cascade: scorer", "#d62728", rows[0].curve.points, false},
                                        {"+heuristics", "#ff7f0e", rows[1].curve.points, true},
                                        {"heuristics", "#9467bd", rows[2].curve.points, true},
                                        {"prompt router", "#1f77b4", rows[router_row].curve.points, false},
                                        {"random", "#7f7f7f", rnd.points, true},
                                        {"oracle", "#2ca02c", orc.points, true},
                                        {"all strong", "#000000", {all_strong}, false}};
      std::ofstream f(plot);
      f << render_svg("switchyard eval --cascade: " + std::to_string(k) + "-fold CV, " + data.models[wi] + " -> " + data.models[si],
                      series, qw, qs);
      if (!f) return fail("eval", "cannot write " + plot);
      std::printf("plot: %s\n", plot.c_str());
    }
    if (a.has("json")) {
      nlohmann::json j = {{"prompts", n},     {"folds", k},        {"seed", seed},
                          {"strong_accuracy", qs}, {"weak_accuracy", qw}, {"always_strong_cost_usd", strong_cost},
                          {"always_weak_cost_usd", weak_cost}, {"target_accuracy", target},
                          {"scorer_auc", roc_auc(scv->p_correct, weak_right)}};
      nlohmann::json rj = nlohmann::json::array();
      for (std::size_t r = 0; r < rows.size(); ++r) {
        nlohmann::json c = curve_json(rows[r].curve);
        c["name"] = rows[r].name;
        c["fold_apgr_mean"] = rows[r].fold_apgr_mean;
        c["fold_apgr_sd"] = rows[r].fold_apgr_sd;
        if (at_target[r])
          c["at_target"] = {{"strong_share", at_target[r]->strong_share}, {"accuracy", at_target[r]->accuracy},
                            {"cost_usd", at_target[r]->cost}, {"cost_vs_strong", at_target[r]->cost / strong_cost}};
        rj.push_back(c);
      }
      j["rows"] = rj;
      j["random"] = curve_json(rnd);
      j["oracle"] = curve_json(orc);
      std::ofstream f(a.get("json"));
      f << j.dump(2) << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    return fail("eval", e.what());
  }
}

}  // namespace sy::tools::cli
