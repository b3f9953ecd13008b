// switchyard train | calibrate | eval: the offline side of the learned router (see src/learn/README.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "switchyard/config/config.hpp"
#include "switchyard/learn/calibrate.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/evaluation.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/metrics.hpp"
#include "switchyard/learn/trainer.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {
namespace {

using namespace sy::learn;

/// `--flag value` pairs; list flags collect repeated uses and bare words that follow them (shell globs).
class Args {
 public:
  Args(int argc, char** argv, std::vector<std::string> list_flags, std::vector<std::string> bool_flags)
      : lists_(std::move(list_flags)), bools_(std::move(bool_flags)) {
    std::string last_list;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        std::string value;
        bool has_value = false;
        if (auto eq = a.find('='); eq != std::string::npos) {
          value = a.substr(eq + 1);
          a = a.substr(0, eq);
          has_value = true;
        }
        const std::string name = a.substr(2);
        if (name == "help") {
          help_ = true;
          continue;
        }
        if (std::find(bools_.begin(), bools_.end(), name) != bools_.end()) {
          values_[name].push_back(has_value ? value : "1");
          last_list.clear();
          continue;
        }
        if (!has_value) {
          if (i + 1 >= argc) {
            error_ = "missing value for --" + name;
            return;
          }
          value = argv[++i];
        }
        values_[name].push_back(value);
        last_list = std::find(lists_.begin(), lists_.end(), name) != lists_.end() ? name : "";
      } else if (!last_list.empty()) {
        values_[last_list].push_back(a);
      } else {
        error_ = "unexpected argument '" + a + "'";
        return;
      }
    }
  }
  bool help() const { return help_; }
  const std::string& error() const { return error_; }
  bool has(const std::string& k) const { return values_.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values_.find(k);
    return it == values_.end() ? def : it->second.back();
  }
  std::vector<std::string> list(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  double num(const std::string& k, double def) const { return has(k) ? std::stod(get(k)) : def; }
  std::vector<std::string> unknown(const std::vector<std::string>& known) const {
    std::vector<std::string> out;
    for (auto& [k, v] : values_)
      if (std::find(known.begin(), known.end(), k) == known.end()) out.push_back("--" + k);
    return out;
  }

 private:
  std::vector<std::string> lists_, bools_;
  std::map<std::string, std::vector<std::string>> values_;
  std::string error_;
  bool help_ = false;
};

/// A one-line progress bar on stderr, redrawn when the percentage changes.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(::isatty(2) != 0) {}
  ~ProgressBar() { finish(); }
  void operator()(std::string_view stage, double f) {
    if (quiet_) return;
    const int pct = static_cast<int>(std::clamp(f, 0.0, 1.0) * 100.0);
    if (pct == last_pct_ && stage == last_stage_) return;
    if (!tty_ && pct / 10 == last_pct_ / 10 && pct != 100) return;  // logs: every 10 %
    last_pct_ = pct;
    last_stage_ = stage;
    const int filled = pct / 4;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(25, ' ');
    std::fprintf(stderr, "%s[%s] %3d%% %-28.28s%s", tty_ ? "\r" : "", bar.c_str(), pct, std::string(stage).c_str(),
                 tty_ ? "" : "\n");
    open_ = tty_;
  }
  void finish() {
    if (open_) std::fputc('\n', stderr);
    open_ = false;
    last_pct_ = -1;
  }
  Progress callback() {
    return [this](std::string_view s, double f) { (*this)(s, f); };
  }

 private:
  bool quiet_, tty_;
  bool open_ = false;
  int last_pct_ = -1;
  std::string last_stage_;
};

int fail(const std::string& cmd, const std::string& msg) {
  std::fprintf(stderr, "switchyard %s: %s\n", cmd.c_str(), msg.c_str());
  return 1;
}

const std::vector<std::string> kTrainFlags = {"label",     "l2",         "group-smoothing", "group-prior",
                                              "hash-bits", "word-ngrams", "char-ngrams",     "no-dense",
                                              "no-number-shapes", "max-bytes", "max-iter",   "seed",
                                              "strong",    "weak",        "no-quality-heads", "no-route-head", "bagging", "tie-weight"};
const std::vector<std::string> kDataFlags = {"models", "contaminated", "no-decontaminate"};

Result<TrainOptions> train_options(const Args& a) {
  TrainOptions o;
  // The recipe that measured best in 5-fold CV on RouteLLM MMLU and GSM8K (see README).
  o.features.hash_bits = static_cast<int>(a.num("hash-bits", 18));
  o.features.word_ngram_max = static_cast<int>(a.num("word-ngrams", 2));
  o.features.dense = !a.has("no-dense");
  o.features.number_shapes = !a.has("no-number-shapes");
  o.features.max_bytes = static_cast<std::size_t>(a.num("max-bytes", 8192));
  if (a.has("char-ngrams")) {
    const std::string c = a.get("char-ngrams");
    int lo = 0, hi = 0;
    if (c != "0" && std::sscanf(c.c_str(), "%d-%d", &lo, &hi) != 2) return Error::bad_request("--char-ngrams wants MIN-MAX or 0");
    o.features.char_ngram_min = lo;
    o.features.char_ngram_max = hi;
  }
  o.logistic.l2 = a.has("l2") && a.get("l2") != "auto" ? a.num("l2", 0) : 0;  // 0: 1/n
  o.logistic.max_iterations = static_cast<int>(a.num("max-iter", 300));
  o.group_smoothing = a.num("group-smoothing", 0.0);
  o.group_prior = a.num("group-prior", 20);
  o.seed = static_cast<std::uint64_t>(a.num("seed", 42));
  o.quality_heads = !a.has("no-quality-heads");
  o.bagging = static_cast<int>(a.num("bagging", 1));
  o.tie_weight = a.num("tie-weight", 1);
  o.route_head = !a.has("no-route-head");
  const std::string label = a.get("label", "gap");
  if (label == "strong-only") o.label = RouteLabel::strong_only;
  else if (label == "weak-wrong") o.label = RouteLabel::weak_wrong;
  else if (label == "gap") o.label = RouteLabel::gap;
  else return Error::bad_request("--label must be strong-only, weak-wrong or gap");
  return o;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, ','))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

Result<Dataset> load(const Args& a, const std::vector<std::string>& inputs, LoadReport& rep) {
  LoadOptions lo;
  if (a.has("models")) lo.models = split_commas(a.get("models"));
  lo.contaminated_files = a.list("contaminated");
  lo.find_contaminated = !a.has("no-decontaminate");
  return load_dataset(inputs, lo, &rep);
}

Result<int> model_arg(const Dataset& d, const Args& a, const std::string& flag, int def) {
  if (!a.has(flag)) return def;
  int i = d.model_index(a.get(flag));
  if (i < 0) return Error::bad_request("--" + flag + ": no model '" + a.get(flag) + "' in the data");
  return i;
}

void describe(const Dataset& d, const LoadReport& rep) {
  std::fprintf(stderr, "loaded %zu rows from %zu file(s), dropped %zu contaminated (%s); models:", rep.rows_read,
               d.sources.size(), rep.dropped_contaminated,
               rep.contaminated_files_used.empty() ? "none found" : rep.contaminated_files_used.front().c_str());
  for (const auto& m : d.models) std::fprintf(stderr, " %s", m.c_str());
  std::fprintf(stderr, "\n");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
int train_main(int argc, char** argv) {
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head",
                                    "no-decontaminate", "quiet"};
  Args a(argc, argv, {"data", "contaminated"}, bools);
  if (a.help() || argc < 2) {
    std::fputs(
        "usage: switchyard train --data FILE|DIR|GLOB... --out MODEL [options]\n"
        "  data: RouteLLM-style CSV (prompt, one True/False or score column per model) or JSONL\n"
        "  --contaminated FILE   prompts to drop (default: contaminated_prompts.jsonl found next to the data)\n"
        "  --no-decontaminate    do not look for contaminated_prompts.jsonl\n"
        "  --models A,B,...      models to keep (default: every score column)\n"
        "  --strong M --weak M   pair for the route head (default: best / worst mean quality)\n"
        "  --label gap|strong-only|weak-wrong   route head target (default gap: (1+q_strong-q_weak)/2)\n"
        "  --group-smoothing A   blend each target with its group's mean (default 0)\n"
        "  --l2 X|auto (default auto = 1/training rows) --hash-bits N --word-ngrams N --char-ngrams MIN-MAX|0 --no-dense --max-iter N --seed N\n"
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
      for (const Example& e : data->examples) scores.push_back((*model)->score(e.prompt));
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
      sink += (*loaded)->score(e.prompt);
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

// ---------------------------------------------------------------------------------------------------------
int calibrate_main(int argc, char** argv) {
  Args a(argc, argv, {"prompts", "contaminated"}, {"no-decontaminate", "json"});
  if (a.help() || argc < 2) {
    std::fputs(
        "usage: switchyard calibrate --prompts FILE... --strong-share S [--model MODEL] [--json]\n"
        "  prompts: a dataset (CSV/JSONL with 'prompt'), or a JSONL decision log whose lines have 'score'\n"
        "           (used as is) or 'prompt' (scored with --model)\n"
        "  prints the threshold t such that score >= t for share S of the prompts\n",
        stderr);
    return a.help() ? 0 : 2;
  }
  if (!a.error().empty()) return fail("calibrate", a.error());
  if (auto u = a.unknown({"prompts", "strong-share", "model", "json", "contaminated", "no-decontaminate", "models"});
      !u.empty())
    return fail("calibrate", "unknown option " + u.front());
  if (!a.has("prompts") || !a.has("strong-share")) return fail("calibrate", "--prompts and --strong-share are required");
  try {
    const double share = a.num("strong-share", 0.5);
    if (share < 0 || share > 1) return fail("calibrate", "--strong-share must be in [0,1]");
    std::shared_ptr<const LearnedModel> model;
    if (a.has("model")) {
      auto m = LearnedModel::load(a.get("model"));
      if (!m) return fail("calibrate", m.error().message);
      model = *m;
    }
    auto files = expand_inputs(a.list("prompts"));
    if (!files) return fail("calibrate", files.error().message);
    std::vector<double> scores;
    std::size_t from_prompts = 0;
    for (const std::string& f : *files) {
      if (f.ends_with(".jsonl")) {
        // A decision log or a JSONL dataset: one object per line with 'score' or 'prompt'.
        auto text = read_file(f);
        if (!text) return fail("calibrate", text.error().message);
        std::istringstream in(*text);
        std::string line;
        std::size_t lineno = 0;
        while (std::getline(in, line)) {
          ++lineno;
          if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_discarded() || !j.is_object()) return fail("calibrate", f + ":" + std::to_string(lineno) + ": not a JSON object");
          if (j.contains("score") && j["score"].is_number()) {
            scores.push_back(j["score"].get<double>());
          } else if (j.contains("prompt") && j["prompt"].is_string()) {
            if (!model) return fail("calibrate", f + ":" + std::to_string(lineno) + ": has a prompt but no --model given");
            scores.push_back(model->score(j["prompt"].get<std::string>()));
            ++from_prompts;
          } else {
            return fail("calibrate", f + ":" + std::to_string(lineno) + ": needs 'score' or 'prompt'");
          }
        }
      } else {
        if (!model) return fail("calibrate", f + ": scoring prompts needs --model");
        LoadReport rep;
        auto d = load(a, {f}, rep);
        if (!d) return fail("calibrate", d.error().message);
        for (const Example& e : d->examples) scores.push_back(model->score(e.prompt));
        from_prompts += d->examples.size();
      }
    }
    if (scores.empty()) return fail("calibrate", "no scores");
    const double t = threshold_for_share(scores, share);
    const double got = share_at(scores, t);
    if (a.has("json")) {
      nlohmann::json j = {{"threshold", t}, {"target_share", share}, {"share", got}, {"prompts", scores.size()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("threshold %.9g: %zu of %zu prompts (%.2f %%) score >= threshold (target %.2f %%)\n", t,
                  static_cast<std::size_t>(std::llround(got * static_cast<double>(scores.size()))), scores.size(),
                  got * 100, share * 100);
      if (from_prompts > 0) std::printf("(%zu prompts scored with the model)\n", from_prompts);
    }
    return 0;
  } catch (const std::exception& e) {
    return fail("calibrate", e.what());
  }
}

// ---------------------------------------------------------------------------------------------------------
namespace {

Result<ModelPrice> parse_price(const std::string& s) {
  ModelPrice p;
  int n = std::sscanf(s.c_str(), "%lf,%lf", &p.input_per_m, &p.output_per_m);
  if (n < 1) return Error::bad_request("price '" + s + "' is not IN[,OUT] (USD per 1M tokens)");
  if (n == 1) p.output_per_m = p.input_per_m;
  return p;
}

Result<ModelPrice> price_from_config(const config::Config& cfg, const std::string& name) {
  const config::ModelConfig* m = cfg.find_model(name);
  if (!m) return Error::bad_request("config has no model '" + name + "'");
  if (m->deployments.empty()) return Error::bad_request("model '" + name + "' has no deployments");
  const config::DeploymentConfig& d = m->deployments.front();
  return ModelPrice{d.input_price, d.output_price};
}

struct Row {
  std::string name;
  double apgr, cpt20, cpt50, cpt80;
};

void print_rows(const std::vector<Row>& rows) {
  std::printf("| %-34s | %6s | %8s | %8s | %8s |\n", "router", "APGR", "CPT(20%)", "CPT(50%)", "CPT(80%)");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(8, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str(), std::string(10, '-').c_str());
  for (const Row& r : rows)
    std::printf("| %-34s | %6.3f | %6.1f %% | %6.1f %% | %6.1f %% |\n", r.name.c_str(), r.apgr, r.cpt20 * 100,
                r.cpt50 * 100, r.cpt80 * 100);
}

Row row_of(const std::string& name, const RoutingCurve& c) {
  return Row{name, c.apgr, cpt(c, 0.2), cpt(c, 0.5), cpt(c, 0.8)};
}

nlohmann::json curve_json(const RoutingCurve& c) {
  nlohmann::json pts = nlohmann::json::array();
  for (const OperatingPoint& p : c.points)
    pts.push_back({{"threshold", p.threshold}, {"strong_share", p.strong_share}, {"accuracy", p.accuracy},
                   {"cost_usd", p.cost}, {"input_tokens", p.input_tokens}, {"output_tokens", p.output_tokens}});
  return {{"apgr", c.apgr}, {"cpt20", cpt(c, 0.2)}, {"cpt50", cpt(c, 0.5)}, {"cpt80", cpt(c, 0.8)}, {"points", pts}};
}

}  // namespace

int eval_main(int argc, char** argv) {
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head",
                                    "no-decontaminate", "quiet", "baselines"};
  Args a(argc, argv, {"data", "train", "test", "contaminated"}, bools);
  if (a.help() || argc < 2) {
    std::fputs(
        "usage: switchyard eval --data FILES... --cv K          k-fold cross-validation (folds by prompt)\n"
        "       switchyard eval --train FILES... --test FILES...  train on one dataset, test on another\n"
        "       switchyard eval --model MODEL --test FILES...     evaluate a trained model\n"
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
                        "weak-price", "output-tokens", "plot", "json", "quiet", "baselines"})
    known.emplace_back(k);
  if (auto u = a.unknown(known); !u.empty()) return fail("eval", "unknown option " + u.front());
  try {
    auto opts = train_options(a);
    if (!opts) return fail("eval", opts.error().message);
    const auto seed = static_cast<std::uint64_t>(a.num("seed", 42));
    ProgressBar bar(a.has("quiet"));

    // Prices.
    CostModel costs;
    costs.strong = {10.0, 30.0};
    costs.weak = {0.6, 0.6};
    costs.default_output_tokens = a.num("output-tokens", 1);
    std::string price_source = "defaults";
    if (a.has("config")) {
      config::Diagnostics diag;
      auto cfg = config::load_config_file(a.get("config"), diag);
      if (!cfg) {
        std::string msg = "cannot load config";
        for (const auto& e : diag.errors()) msg += "\n  " + e;
        return fail("eval", msg);
      }
      if (!a.has("strong-model") || !a.has("weak-model"))
        return fail("eval", "--config needs --strong-model and --weak-model (model names in the config)");
      auto sp = price_from_config(*cfg, a.get("strong-model"));
      auto wp = price_from_config(*cfg, a.get("weak-model"));
      if (!sp) return fail("eval", sp.error().message);
      if (!wp) return fail("eval", wp.error().message);
      costs.strong = *sp;
      costs.weak = *wp;
      price_source = a.get("config");
    }
    if (a.has("strong-price")) {
      auto p = parse_price(a.get("strong-price"));
      if (!p) return fail("eval", p.error().message);
      costs.strong = *p;
      price_source = "flags";
    }
    if (a.has("weak-price")) {
      auto p = parse_price(a.get("weak-price"));
      if (!p) return fail("eval", p.error().message);
      costs.weak = *p;
      price_source = "flags";
    }

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
        scores.push_back(model->score(test.examples[i].prompt));
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
