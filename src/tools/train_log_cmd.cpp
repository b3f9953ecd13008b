// switchyard train --from-log: retrains a learned router from the gateway's own traffic — the decision
// log's prompts, the feedback given on their answers and the cascade's verdicts (learn/traffic.hpp) —
// calibrates it to a strong-call share, reports the expected cost and quality against what was served and
// against the current model on a held-out slice of the requests, and writes the model file (atomically:
// a running gateway whose config names that file reloads it, see README "Learning from traffic").
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "learn_cli.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/learn/calibrate.hpp"
#include "switchyard/learn/traffic.hpp"

namespace sy::tools::cli {

namespace {

/// What the config says about the learned router being retrained.
struct LearnedStage {
  std::string model_file, strong, weak;
  std::optional<double> threshold;
};

/// The router's first learned stage, or null.
const config::Node* learned_node(const config::RouterConfig& r) {
  const config::Node* stages = r.node.get("stages");
  if (!stages || !stages->is_sequence()) return nullptr;
  for (const auto& st : stages->items()) {
    const config::Node* type = st.get("type");
    if (type && type->is_scalar() && type->scalar() == "learned") return &st;
  }
  return nullptr;
}

/// The learned stage of `router` in the config (or of its only router with one), its tiers resolved.
Result<LearnedStage> learned_stage(const config::Config& cfg, const std::string& config_path, const std::string& router) {
  const config::RouterConfig* found = nullptr;
  const config::Node* stage = nullptr;
  for (const auto& r : cfg.routers) {
    if (!router.empty() && r.name != router) continue;
    const config::Node* st = learned_node(r);
    if (!st) continue;
    if (found) return Error::bad_request("several routers have a learned stage: name one with --router");
    found = &r;
    stage = st;
  }
  if (!found) {
    return Error::bad_request(router.empty() ? "the config has no router with a learned stage"
                                             : "router '" + router + "' has no learned stage (or does not exist)");
  }
  auto scalar = [](const config::Node* n) { return n && n->is_scalar() ? n->scalar() : std::string(); };
  auto model = [&](const char* key) {
    std::string name = scalar(stage->get(key));
    const config::Node* tiers = found->node.get("tiers");
    const config::Node* tier = tiers && tiers->is_map() ? tiers->get(name) : nullptr;
    return tier && tier->is_scalar() ? tier->scalar() : name;
  };
  LearnedStage out;
  out.model_file = scalar(stage->get("model_file"));
  if (!out.model_file.empty() && out.model_file.front() != '/') {
    out.model_file = (std::filesystem::path(config_path).parent_path() / out.model_file).string();
  }
  out.strong = model("strong");
  out.weak = model("weak");
  if (auto t = scalar(stage->get("threshold")); !t.empty()) out.threshold = std::stod(t);
  return out;
}

/// A routing policy's expected outcome on the held-out rows.
struct Outcome {
  std::string name;
  double strong_share = 0, cost_usd = 0, quality = 0;
  bool priced = true;
};

/// Quality of a row when `strong` answers: its feedback, else 1 (the strong model is the reference).
double row_quality(const Example& e, bool strong) {
  if (strong) return std::isnan(e.quality[0]) ? 1.0 : e.quality[0];
  return e.quality[1];
}

struct Evaluation {
  const TrafficData& traffic;
  std::vector<std::size_t> rows;  ///< held-out rows with a weak-model label, answered by strong or weak
  std::function<std::optional<double>(int model, const TrafficRequest&)> price;  ///< 0 strong, 1 weak

  Outcome logged() const {
    Outcome o{"as served", 0, 0, 0, true};
    for (std::size_t r : rows) {
      const bool strong = traffic.requests[r].answered_by == traffic.data.models[0];
      o.strong_share += strong;
      o.cost_usd += traffic.requests[r].cost_usd;
      o.quality += row_quality(traffic.data.examples[r], strong);
    }
    return finish(o);
  }

  Outcome model(const std::string& name, const LearnedModel& m, double threshold) const {
    Outcome o{name, 0, 0, 0, true};
    for (std::size_t r : rows) {
      const Example& e = traffic.data.examples[r];
      const bool strong = m.score(e.prompt, e.conversation) >= threshold;
      o.strong_share += strong;
      auto c = price(strong ? 0 : 1, traffic.requests[r]);
      o.priced = o.priced && c.has_value();
      o.cost_usd += c.value_or(0);
      o.quality += row_quality(e, strong);
    }
    return finish(o);
  }

 private:
  Outcome finish(Outcome o) const {
    const double n = rows.empty() ? 1.0 : static_cast<double>(rows.size());
    o.strong_share /= n;
    o.cost_usd /= n;
    o.quality /= n;
    return o;
  }
};

void print_outcomes(const std::vector<Outcome>& outs, std::size_t rows) {
  std::printf("\nheld-out slice: %zu requests with a label for the weak model\n", rows);
  std::printf("%-42s %12s %16s %10s\n", "policy", "strong share", "USD / 1k req", "quality*");
  for (const Outcome& o : outs) {
    char cost[32] = "-";
    if (o.priced) std::snprintf(cost, sizeof cost, "%.4f", o.cost_usd * 1000);
    std::printf("%-42s %11.1f%% %16s %10.3f\n", o.name.c_str(), 100 * o.strong_share, cost, o.quality);
  }
  std::printf("* mean quality of the answers: the weak model's from feedback and cascade verdicts, the strong model's\n"
              "  from feedback, else taken as 1 (the strong model is the reference)\n");
  const Outcome& now = outs.back();
  for (std::size_t i = 0; i + 1 < outs.size(); ++i) {
    const Outcome& base = outs[i];
    std::printf("new vs %s: strong share %+.1f pts, quality %+.3f", base.name.c_str(),
                100 * (now.strong_share - base.strong_share), now.quality - base.quality);
    if (base.priced && now.priced && base.cost_usd > 0) {
      std::printf(", cost %+.1f%%", 100 * (now.cost_usd / base.cost_usd - 1));
    }
    std::printf("\n");
  }
}

nlohmann::json outcome_json(const Outcome& o) {
  nlohmann::json j = {{"policy", o.name}, {"strong_share", o.strong_share}, {"quality", o.quality}};
  j["cost_usd_per_request"] = o.priced ? nlohmann::json(o.cost_usd) : nlohmann::json(nullptr);
  return j;
}

void print_usage() {
  std::fputs(
      "usage: switchyard train --from-log LOG... [--config FILE [--router NAME]] [--out MODEL] [options]\n"
      "  Retrains a learned router from the decision log (decision_log.include_prompt: true), the feedback\n"
      "  given through POST /v1/feedback and the cascade's accept/escalate verdicts, and writes MODEL\n"
      "  atomically: a running switchyard whose config names MODEL reloads it within a second.\n"
      "  --config FILE        the gateway's config: the learned router's model file (the current model, and\n"
      "                       the default --out), its strong and weak models, threshold, and the prices\n"
      "  --router NAME        the router whose learned stage to retrain (default: the only one)\n"
      "  --strong M --weak M  the models as logged (default: the learned stage's)\n"
      "  --current FILE       the model to compare with (default: the stage's model file, else --out)\n"
      "  --current-threshold X  its threshold (default: the stage's, else the file's)\n"
      "  --log-router NAME    learn only from this router's requests (default: every router's)\n"
      "  --strong-share S     calibrate the threshold to send share S to strong (default: the logged share)\n"
      "  --holdout F          share of requests held out for the report (default 0.2; by request id)\n"
      "  --min-labels N       fewest labelled training requests to train on (default 20)\n"
      "  --score-range LO,HI  scale of feedback scores (default: detected: 0-1, 1-5, 1-10, 0-100, -1-1)\n"
      "  --json FILE          the report as JSON\n"
      "  --price MODEL=IN,OUT USD per 1M tokens (default: the config's first deployment of each model)\n"
      "  and the recipe flags of `switchyard train` (--label defaults to weak-wrong here).\n",
      stderr);
}

Result<std::pair<double, double>> parse_range(const std::string& s) {
  double lo = 0, hi = 0;
  if (std::sscanf(s.c_str(), "%lf,%lf", &lo, &hi) != 2 || !(hi > lo)) {
    return Error::bad_request("--score-range wants LO,HI with HI > LO");
  }
  return std::make_pair(lo, hi);
}

/// The options of one run, from the flags and the config.
struct Plan {
  TrafficOptions traffic;
  std::string out, current;
  std::optional<double> current_threshold;
  std::shared_ptr<const config::Config> config;
  std::map<std::string, ModelPrice> prices;  ///< --price, else the config's first deployment
};

Result<Plan> plan_of(const Args& a) {
  Plan p;
  if (a.has("config")) {
    config::Diagnostics d;
    p.config = config::load_config_file(a.get("config"), d);
    if (!p.config) {
      std::string msg = "cannot load " + a.get("config");
      for (const auto& e : d.errors()) msg += "\n  " + e;
      return Error::bad_request(msg);
    }
    auto st = learned_stage(*p.config, a.get("config"), a.get("router"));
    if (!st) return std::move(st).error();
    p.traffic.strong = st->strong;
    p.traffic.weak = st->weak;
    p.out = p.current = st->model_file;
    p.current_threshold = st->threshold;
  } else if (a.has("router")) {
    return Error::bad_request("--router needs --config");
  }
  p.traffic.strong = a.get("strong", p.traffic.strong);
  p.traffic.weak = a.get("weak", p.traffic.weak);
  p.traffic.router = a.get("log-router");
  p.out = a.get("out", p.out);
  p.current = a.get("current", p.current.empty() ? p.out : p.current);
  if (a.has("current-threshold")) p.current_threshold = a.num("current-threshold", 0.5);
  if (p.out.empty()) return Error::bad_request("--out is required (or --config with a learned router)");
  if (a.has("score-range")) {
    auto r = parse_range(a.get("score-range"));
    if (!r) return std::move(r).error();
    p.traffic.score_range = *r;
  }
  for (const std::string& s : a.list("price")) {
    auto eq = s.find('=');
    if (eq == std::string::npos) return Error::bad_request("--price wants MODEL=IN,OUT");
    auto price = parse_price(s.substr(eq + 1));
    if (!price) return Error::bad_request("--price wants MODEL=IN,OUT");
    p.prices[s.substr(0, eq)] = *price;
  }
  for (const std::string& model : {p.traffic.strong, p.traffic.weak}) {
    if (!p.config || p.prices.count(model)) continue;
    if (auto price = price_from_config(*p.config, model)) p.prices[model] = *price;
  }
  return p;
}

/// USD of one request answered by `model` at its logged token counts, when the model is priced.
std::optional<double> price_of(const Plan& p, const std::string& model, const TrafficRequest& r) {
  auto it = p.prices.find(model);
  if (it == p.prices.end()) return std::nullopt;
  return (static_cast<double>(r.prompt_tokens) * it->second.input_per_m +
          static_cast<double>(r.completion_tokens) * it->second.output_per_m) / 1e6;
}

void describe(const TrafficData& t, const TrafficReport& rep) {
  std::fprintf(stderr,
               "read %zu request lines: %zu rows (%zu answered by strong); skipped %zu without a prompt, %zu other "
               "routers or named models, %zu failed, %zu answered by other models\n"
               "labels for the weak model: %zu from feedback, %zu from cascade verdicts; feedback on the strong "
               "model: %zu; feedback lines %zu (%zu not joined); score scale %g..%g\n",
               rep.decision_lines, t.requests.size(), t.strong_answers, rep.without_prompt, rep.not_routed, rep.failed,
               rep.other_models, rep.from_feedback, rep.from_cascade, rep.strong_feedback, rep.feedback_lines,
               rep.feedback_unmatched, rep.score_range.first, rep.score_range.second);
}

/// The training rows, and the held-out rows the report scores: those with a weak-model label that the
/// strong or the weak model answered.
struct Split {
  std::vector<std::size_t> train, eval;
  std::size_t labelled = 0, strong_answers = 0;  ///< of the training rows
};

Split split_rows(const TrafficData& t, const TrafficOptions& pair, double holdout) {
  Split s;
  for (std::size_t i = 0; i < t.requests.size(); ++i) {
    const TrafficRequest& r = t.requests[i];
    const bool label = !std::isnan(t.data.examples[i].quality[1]);
    if (held_out(r.request_id, holdout)) {
      if (label && (r.answered_by == pair.strong || r.answered_by == pair.weak)) s.eval.push_back(i);
      continue;
    }
    s.train.push_back(i);
    s.labelled += label;
    s.strong_answers += r.answered_by == pair.strong;
  }
  return s;
}

int run(const Args& a) {
  auto plan = plan_of(a);
  if (!plan) return fail("train", plan.error().message);
  std::vector<std::string> logs;
  for (const std::string& f : a.list("from-log")) {
    auto text = read_file(f);
    if (!text) return fail("train", text.error().message);
    logs.push_back(std::move(*text));
  }
  TrafficReport rep;
  auto traffic = traffic_dataset(logs, plan->traffic, &rep);
  if (!traffic) return fail("train", traffic.error().message);
  describe(*traffic, rep);

  const double holdout = a.num("holdout", 0.2);
  if (!(holdout >= 0 && holdout < 1)) return fail("train", "--holdout wants a share in [0, 1)");
  const Split split = split_rows(*traffic, plan->traffic, holdout);
  const auto& [train_rows, eval_rows, labelled, strong_in_train] = split;
  const auto min_labels = static_cast<std::size_t>(a.num("min-labels", 20));
  if (labelled < min_labels) {
    return fail("train", std::to_string(labelled) + " labelled requests in the training slice, fewer than --min-labels " +
                             std::to_string(min_labels) +
                             ": log prompts (decision_log.include_prompt: true), collect feedback (POST /v1/feedback) "
                             "or run a cascade in front of the weak model");
  }

  auto opts = train_options(a);
  if (!opts) return fail("train", opts.error().message);
  if (!a.has("label")) opts->label = RouteLabel::weak_wrong;  // the strong model's quality is rarely known
  opts->quality_heads = false;
  opts->strong = 0;
  opts->weak = 1;
  ProgressBar bar(a.has("quiet"));
  auto model = train_router(traffic->data, train_rows, {}, *opts, bar.callback());
  bar.finish();
  if (!model) return fail("train", model.error().message);

  ModelParts parts = (*model)->parts();
  const double share = a.has("strong-share") ? a.num("strong-share", 0.5)
                                             : static_cast<double>(strong_in_train) / static_cast<double>(train_rows.size());
  std::vector<double> scores;
  for (std::size_t r : train_rows) scores.push_back((*model)->score(traffic->data.examples[r].prompt, traffic->data.examples[r].conversation));
  parts.threshold = threshold_for_share(scores, share);
  parts.prices.clear();
  for (const std::string& name : traffic->data.models) {
    auto it = plan->prices.find(name);
    parts.prices.push_back(it != plan->prices.end() ? it->second : ModelPrice{});
  }
  parts.notes = "trained on " + std::to_string(train_rows.size()) + " logged requests (" + std::to_string(labelled) +
                " labelled) by switchyard train --from-log";
  auto trained = LearnedModel::from_parts(std::move(parts));
  if (!trained) return fail("train", trained.error().message);

  Evaluation ev{*traffic, eval_rows, [&](int m, const TrafficRequest& r) {
                  return price_of(*plan, traffic->data.models[static_cast<std::size_t>(m)], r);
                }};
  std::vector<Outcome> outs = {ev.logged()};
  std::string current_note;
  if (std::filesystem::exists(plan->current)) {
    auto current = LearnedModel::load(plan->current);
    if (current) {
      const std::string name = "current " + std::filesystem::path(plan->current).filename().string();
      outs.push_back(ev.model(name, **current, plan->current_threshold.value_or((*current)->default_threshold())));
      // The same model at the new one's strong-call share: what retraining changed in the ranking alone.
      std::vector<double> current_scores;
      for (std::size_t r : train_rows) {
        current_scores.push_back((*current)->score(traffic->data.examples[r].prompt, traffic->data.examples[r].conversation));
      }
      outs.push_back(ev.model(name + " at that share", **current, threshold_for_share(current_scores, share)));
    } else {
      current_note = "the current model " + plan->current + " does not load: " + current.error().message;
    }
  }
  outs.push_back(ev.model("new", **trained, (*trained)->default_threshold()));
  std::printf("calibrated to %.1f%% strong calls on the %zu training requests: threshold %.6f\n", 100 * share,
              train_rows.size(), (*trained)->default_threshold());
  print_outcomes(outs, eval_rows.size());
  if (!current_note.empty()) std::printf("%s\n", current_note.c_str());

  auto saved = (*trained)->save(plan->out);
  if (!saved) return fail("train", saved.error().message);
  std::printf("wrote %s (a running switchyard whose config names it reloads it)\n", plan->out.c_str());
  if (a.has("json")) {
    nlohmann::json j = {{"model_file", plan->out},
                        {"threshold", (*trained)->default_threshold()},
                        {"strong_share_target", share},
                        {"rows", traffic->requests.size()},
                        {"train_rows", train_rows.size()},
                        {"labelled_train_rows", labelled},
                        {"held_out_rows", eval_rows.size()},
                        {"labels_from_feedback", rep.from_feedback},
                        {"labels_from_cascade", rep.from_cascade},
                        {"policies", nlohmann::json::array()}};
    for (const Outcome& o : outs) j["policies"].push_back(outcome_json(o));
    std::ofstream out(a.get("json"));
    out << j.dump(2) << '\n';
    if (!out) return fail("train", "cannot write " + a.get("json"));
  }
  return 0;
}

}  // namespace

int train_from_log_cmd(int argc, char** argv) {
  std::vector<std::string> bools = {"no-dense", "no-number-shapes", "no-quality-heads", "no-route-head", "quiet",
                                    "no-structure", "no-conversation", "task", "no-task"};
  Args a(argc, argv, {"from-log"}, bools);
  if (a.help()) {
    print_usage();
    return 0;
  }
  if (!a.error().empty()) return fail("train", a.error());
  std::vector<std::string> known = kTrainFlags;
  for (const char* k : {"from-log", "config", "router", "out", "current", "current-threshold", "log-router",
                        "strong-share", "holdout", "min-labels", "score-range", "json", "price", "quiet"}) {
    known.emplace_back(k);
  }
  if (auto u = a.unknown(known); !u.empty()) return fail("train", "unknown option " + u.front());
  if (a.list("from-log").empty()) return fail("train", "--from-log wants at least one decision log");
  try {
    return run(a);
  } catch (const std::exception& e) {
    return fail("train", e.what());
  }
}

}  // namespace sy::tools::cli
