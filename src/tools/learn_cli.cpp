// Helpers shared by the learned-router commands; see learn_cli.hpp.
#include "learn_cli.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "switchyard/config/config.hpp"

namespace sy::tools::cli {

int fail(const std::string& cmd, const std::string& msg) {
  std::fprintf(stderr, "switchyard %s: %s\n", cmd.c_str(), msg.c_str());
  return 1;
}

const std::vector<std::string> kTrainFlags = {"label",     "l2",         "group-smoothing", "group-prior",
                                              "hash-bits", "word-ngrams", "char-ngrams",     "no-dense",
                                              "no-number-shapes", "max-bytes", "max-iter",   "seed",
                                              "strong",    "weak",        "no-quality-heads", "no-route-head", "bagging", "tie-weight",
                                              "no-structure", "no-conversation", "task", "no-task", "invariant-agreement", "prior-space", "prior-mix", "shift-quantile", "shift-margin", "shift-fallback", "drop-features"};
const std::vector<std::string> kDataFlags = {"models", "contaminated", "no-decontaminate", "source-weight", "no-balance-sources"};

Result<TrainOptions> train_options(const Args& a, bool in_distribution_recipe) {
  const bool legacy = in_distribution_recipe;
  TrainOptions o;
  // Defaults: the recipe that measured best out of distribution (leave one dataset out, README §6); with
  // in_distribution_recipe, the one that measured best in 5-fold CV inside each benchmark (README §6).
  o.features.hash_bits = static_cast<int>(a.num("hash-bits", 18));
  o.features.word_ngram_max = static_cast<int>(a.num("word-ngrams", legacy ? 2 : kDefaultWordNgrams));
  o.features.dense = !a.has("no-dense");
  o.features.number_shapes = !a.has("no-number-shapes");
  o.features.max_bytes = static_cast<std::size_t>(a.num("max-bytes", 8192));
  o.features.structure = !a.has("no-structure") && !legacy;
  // The conversation block is constant on single-prompt data (the heads ignore it there); it is on so that
  // a model trained on conversations (JSONL `messages`) learns from it and the shift guard sees requests
  // unlike every training prompt (README §2, "Conversations").
  o.features.conversation = !a.has("no-conversation") && !legacy;
  o.features.task = a.has("task") || (kDefaultTask && !a.has("no-task") && !legacy);
  o.drop_dense = split_commas(a.get("drop-features", legacy ? "" : kDefaultDropFeatures));
  if (!o.features.structure)
    std::erase_if(o.drop_dense, [](const std::string& f) { return f == "log_math_expressions" || f == "ends_with_question"; });
  // Prior and shift guard: the recipe chosen by leave-one-dataset-out evaluation (README §6).
  o.invariant_agreement = a.num("invariant-agreement", legacy ? 0 : kDefaultInvariantAgreement);
  if (o.invariant_agreement < 0 || o.invariant_agreement > 1) return Error::bad_request("--invariant-agreement must be in [0,1] (0: off)");
  o.prior_mix = a.num("prior-mix", legacy ? 0 : kDefaultPriorMix);
  const std::string space = a.get("prior-space", "score");
  if (space != "score" && space != "logit") return Error::bad_request("--prior-space must be score or logit");
  o.prior_logit_mix = space == "logit";
  o.shift_quantile = a.num("shift-quantile", legacy ? 0 : kDefaultShiftQuantile);
  o.shift_margin = a.num("shift-margin", kDefaultShiftMargin);
  if (o.prior_mix < 0 || o.prior_mix > 1) return Error::bad_request("--prior-mix must be in [0,1]");
  if (o.shift_quantile < 0 || o.shift_quantile > 1) return Error::bad_request("--shift-quantile must be in [0,1] (0: guard off)");
  const std::string fb = a.get("shift-fallback", "length");
  if (fb == "length") o.shift_fallback = ScorePrior::Fallback::length;
  else if (fb == "strong") o.shift_fallback = ScorePrior::Fallback::strong;
  else if (fb == "weak") o.shift_fallback = ScorePrior::Fallback::weak;
  else return Error::bad_request("--shift-fallback must be length, strong or weak");
  if (a.has("char-ngrams")) {
    const std::string c = a.get("char-ngrams");
    int lo = 0, hi = 0;
    if (c != "0" && std::sscanf(c.c_str(), "%d-%d", &lo, &hi) != 2) return Error::bad_request("--char-ngrams wants MIN-MAX or 0");
    o.features.char_ngram_min = lo;
    o.features.char_ngram_max = hi;
  }
  // Without hashed n-grams the hash table only holds IDF rows nobody reads: keep it at the minimum (256
  // buckets) so that the model loads in a millisecond and scoring touches one small table.
  if (o.features.word_ngram_max == 0 && o.features.char_ngram_min == 0 && !a.has("hash-bits")) o.features.hash_bits = 8;
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
  lo.balance_sources = !a.has("no-balance-sources");
  for (const std::string& sw : a.list("source-weight")) {
    const auto eq = sw.find('=');
    char* end = nullptr;
    const double w = eq == std::string::npos ? -1 : std::strtod(sw.c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || !(w >= 0) || *end != '\0')
      throw std::invalid_argument("--source-weight wants SOURCE=W (W >= 0), got '" + sw + "'");
    lo.source_weights.emplace_back(sw.substr(0, eq), w);
  }
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

bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == flag) return true;
  return false;
}

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

Result<std::string> resolve_prices(const Args& a, CostModel& costs, const std::string& strong_name,
                                   const std::string& weak_name) {
  costs.strong = {10.0, 30.0};
  costs.weak = {0.6, 0.6};
  std::string source = "defaults";
  if (a.has("config")) {
    config::Diagnostics diag;
    auto cfg = config::load_config_file(a.get("config"), diag);
    if (!cfg) {
      std::string msg = "cannot load config";
      for (const auto& e : diag.errors()) msg += "\n  " + e;
      return Error::bad_request(msg);
    }
    const std::string strong = a.get("strong-model", strong_name), weak = a.get("weak-model", weak_name);
    if (strong.empty() || weak.empty())
      return Error::bad_request("--config needs --strong-model and --weak-model (model names in the config)");
    auto sp = price_from_config(*cfg, strong);
    if (!sp) return std::move(sp).error();
    auto wp = price_from_config(*cfg, weak);
    if (!wp) return std::move(wp).error();
    costs.strong = *sp;
    costs.weak = *wp;
    source = a.get("config");
  }
  for (auto [flag, price] : {std::pair{"strong-price", &costs.strong}, std::pair{"weak-price", &costs.weak}}) {
    if (!a.has(flag)) continue;
    auto p = parse_price(a.get(flag));
    if (!p) return std::move(p).error();
    *price = *p;
    source = "flags";
  }
  return source;
}

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

}  // namespace sy::tools::cli
