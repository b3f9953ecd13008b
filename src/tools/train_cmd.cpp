// switchyard train: fits a learned router and writes the .sylm file (see src/learn/README.md §2).
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
#include "switchyard/learn/calibrate.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {

using namespace sy::tools::cli;

int train_main(int argc, char** argv) {
  if (has_flag(argc, argv, "--answer-scorer")) return train_answer_scorer_cmd(argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).starts_with("--from-log")) return train_from_log_cmd(argc, argv);
  }
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head",
                                    "no-decontaminate", "quiet", "no-structure", "no-conversation", "task", "no-task", "no-balance-sources"};
  Args a(argc, argv, {"data", "contaminated"}, bools);
  if (a.help() || argc < 2) {
    std::fputs(
        "usage: switchyard train --data FILE|DIR|GLOB... --out MODEL [options]\n"
        "       switchyard train --answer-scorer --data FILE... --out SCORER [--help for its options]\n"
        "       switchyard train --from-log LOG... --config FILE [--help for its options]: retrain from traffic\n"
        "  data: RouteLLM-style CSV (prompt, one True/False or score column per model) or JSONL (scores, 1-10 judge\n"
        "        scores, or preference pairs model_a/model_b/winner); each --data argument is one source\n"
        "  --contaminated FILE   prompts to drop (default: contaminated_prompts.jsonl found next to the data)\n"
        "  --no-decontaminate    do not look for contaminated_prompts.jsonl\n"
        "  --models A,B,...      models to keep (default: every score column)\n"
        "  --strong M --weak M   pair for the route head (default: best / worst mean quality)\n"
        "  --label gap|strong-only|weak-wrong   route head target (default gap: (1+q_strong-q_weak)/2)\n"
        "  --group-smoothing A   blend each target with its group's mean (default 0)\n"
        "  --l2 X|auto (default auto = 1/training rows) --hash-bits N --char-ngrams MIN-MAX|0 --no-dense --max-iter N --seed N\n"
        "  --word-ngrams N       word n-grams up to N (default 0: off; they learn a benchmark's topics, see README §6)\n"
        "  --no-structure        leave out the structure features (turns, code, math, constraints, question type, output length)\n"
        "  --no-conversation     leave out the conversation features (earlier turns, system prompt, context length)\n"
        "  --task / --no-task    the task features (few-shot count, question/option lengths, negations, quantity words, ...)\n"
        "  --drop-features A,B   dense features to leave out (default log_math_expressions,ends_with_question; '' keeps all)\n"
        "  --prior-mix X         weight of the length prior in the score (default 0.5; 0 = model only)\n"
        "  --shift-quantile Q    shift guard: prompts farther from the training data than this quantile of the training\n"
        "                        prompts' distances (times --shift-margin M, default 2) are scored by the prior (default 0.99; 0 = off)\n"
        "  --shift-fallback length|strong|weak   what an out-of-distribution prompt gets (default length)\n"
        "  --source-weight NAME=W   weight of a source (a --data argument, NAME=PATH or its stem; repeatable)\n"
        "  --no-balance-sources  keep each row's weight (default: every source gets the same total weight)\n"
        "  --strong-share S      store the threshold that sends share S of the training prompts to strong\n"
        "  --price MODEL=IN,OUT  USD per 1M tokens stored for choose() (repeatable)\n"
        "  --quiet               no progress output\n",
        stderr);
    return a.help() ? 0 : 2;
  }
  if (!a.error().empty()) return fail("train", a.error());
  std::vector<std::string> known = kTrainFlags;
  known.insert(known.end(), kDataFlags.begin(), kDataFlags.end());
  for (const char* k : {"data", "out", "strong-share", "price", "quiet"}) known.emplace_back(k);
  if (auto u = a.unknown(known); !u.empty()) return fail("train", "unknown option " + u.front());
  if (!a.has("data")) return fail("train", "--data is required");
  if (!a.has("out")) return fail("train", "--out is required");
  try {
    auto opts = train_options(a);
    if (!opts) return fail("train", opts.error().message);
    LoadReport rep;
    auto data = load(a, a.list("data"), rep);
    if (!data) return fail("train", data.error().message);
    describe(*data, rep);
    auto s = model_arg(*data, a, "strong", -1);
    auto w = model_arg(*data, a, "weak", -1);
    if (!s) return fail("train", s.error().message);
    if (!w) return fail("train", w.error().message);
    opts->strong = *s;
    opts->weak = *w;
    ProgressBar bar(a.has("quiet"));
    const auto t0 = std::chrono::steady_clock::now();
    auto raw = extract_all(*data, opts->features, bar.callback());
    auto model = train_router(*data, {}, raw, *opts, bar.callback());
    bar.finish();
    if (!model) return fail("train", model.error().message);
    ModelParts parts = (*model)->parts();
    if (a.has("strong-share")) {
      std::vector<double> scores;
      for (const Example& e : data->examples) scores.push_back((*model)->score(e.prompt, e.conversation));
      parts.threshold = threshold_for_share(scores, a.num("strong-share", 0.5));
    }
    for (const std::string& p : a.list("price")) {
      auto eq = p.find('=');
      double in = 0, out = 0;
      if (eq == std::string::npos || std::sscanf(p.c_str() + eq + 1, "%lf,%lf", &in, &out) != 2)
        return fail("train", "--price wants MODEL=IN,OUT");
      int m = data->model_index(p.substr(0, eq));
      if (m < 0) return fail("train", "--price: no model '" + p.substr(0, eq) + "'");
      if (parts.prices.empty()) parts.prices.assign(parts.models.size(), ModelPrice{});
      parts.prices[static_cast<std::size_t>(m)] = {in, out};
    }
    std::ostringstream notes;
    notes << "trained on " << data->examples.size() << " prompts from";
    for (const auto& src : data->sources) notes << ' ' << src;
    parts.notes = notes.str();
    auto final_model = LearnedModel::from_parts(std::move(parts));
    if (!final_model) return fail("train", final_model.error().message);
    auto saved = (*final_model)->save(a.get("out"));
    if (!saved) return fail("train", saved.error().message);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s: %zu heads, %zu models, threshold %.6f (%.1f s)\n", a.get("out").c_str(),
                (*final_model)->heads().size(), (*final_model)->models().size(), (*final_model)->default_threshold(), secs);
    // Serving-side check: load the file back and time score() on every training prompt.
    using clock = std::chrono::steady_clock;
    const auto l0 = clock::now();
    auto loaded = LearnedModel::load(a.get("out"));
    const double load_ms = std::chrono::duration<double, std::milli>(clock::now() - l0).count();
    if (!loaded) return fail("train", "reloading the model failed: " + loaded.error().message);
    std::vector<double> us;
    us.reserve(data->examples.size());
    double sink = 0;
    for (const Example& e : data->examples) {
      const auto s0 = clock::now();
      sink += (*loaded)->score(e.prompt, e.conversation);
      us.push_back(std::chrono::duration<double, std::micro>(clock::now() - s0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("load %.1f ms; score() over %zu prompts: p50 %.1f us, p99 %.1f us (checksum %.3f)\n", load_ms, us.size(),
                us[us.size() / 2], us[us.size() * 99 / 100], sink);
    return 0;
  } catch (const std::exception& e) {
    return fail("train", e.what());
  }
}

}  // namespace sy::tools
