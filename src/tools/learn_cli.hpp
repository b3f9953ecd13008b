// Shared by the offline learned-router commands (train_cmd.cpp, calibrate_cmd.cpp, eval_cmd.cpp,
// cascade_cmd.cpp): argument parsing, progress output, data loading, training options and prices.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/evaluation.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/metrics.hpp"
#include "switchyard/learn/trainer.hpp"

namespace sy::config {
struct Config;
}

namespace sy::tools::cli {

using namespace sy::learn;

/// `--flag value` pairs; list flags collect repeated uses and bare words that follow them (shell globs).
class Args {
 public:
  Args(int argc, char** argv, std::vector<std::string> list_flags, std::vector<std::string> bool_flags)
      : lists_(std::move(list_flags)), bools_(std::move(bool_flags)) {
    std::string last_list;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-o") a = "--out";
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

/// Prints "switchyard CMD: MSG" to stderr and returns 1.
int fail(const std::string& cmd, const std::string& msg);

/// The default recipe of `train` and `eval`, chosen by the leave-one-dataset-out protocol (README §6):
/// dense length/shape/structure features without word n-grams, two structure features left out, the
/// length prior at weight 0.5, and the shift guard at twice the 99th percentile of the training distances.
inline constexpr int kDefaultWordNgrams = 0;
inline constexpr double kDefaultPriorMix = 0.5;
inline constexpr double kDefaultShiftQuantile = 0.99;
inline constexpr double kDefaultShiftMargin = 2.0;
inline constexpr bool kDefaultTask = false;
inline constexpr double kDefaultInvariantAgreement = 0;
inline constexpr const char* kDefaultDropFeatures = "log_math_expressions,ends_with_question";

/// Flags of the router recipe (train, eval) and of data loading (every command).
extern const std::vector<std::string> kTrainFlags;
extern const std::vector<std::string> kDataFlags;

/// TrainOptions from the recipe flags; defaults are the recipe that measured best (see src/learn/README.md).
/// `in_distribution_recipe` keeps the defaults from before the out-of-distribution protocol (word uni- and
/// bigrams, no structure block, no prior, no guard): `eval --cascade` compares with that router.
Result<TrainOptions> train_options(const Args& a, bool in_distribution_recipe = false);
std::vector<std::string> split_commas(const std::string& s);
/// Loads `inputs` with --models / --contaminated / --no-decontaminate applied.
Result<Dataset> load(const Args& a, const std::vector<std::string>& inputs, LoadReport& rep);
/// The index of the model named by --flag, `def` when the flag is absent.
Result<int> model_arg(const Dataset& d, const Args& a, const std::string& flag, int def);
/// One line on stderr: rows, files, contaminated rows dropped, models.
void describe(const Dataset& d, const LoadReport& rep);
/// True when argv holds exactly `flag` (used to dispatch to a sub-mode before full parsing).
bool has_flag(int argc, char** argv, std::string_view flag);

Result<ModelPrice> parse_price(const std::string& s);
/// The price of `name`'s first deployment in `cfg` (an error names a missing model).
Result<ModelPrice> price_from_config(const config::Config& cfg, const std::string& name);
/// Prices for `eval`, in order: built-in defaults (GPT-4 Turbo vs Mixtral), the first deployment of each
/// model in --config (--strong-model/--weak-model, else the given default names; with no default the flag
/// is required), then --strong-price/--weak-price. Returns where the prices came from.
Result<std::string> resolve_prices(const Args& a, CostModel& costs, const std::string& strong_name = {},
                                   const std::string& weak_name = {});

/// A line of the APGR / CPT table.
struct Row {
  std::string name;
  double apgr, cpt20, cpt50, cpt80;
};
void print_rows(const std::vector<Row>& rows);
Row row_of(const std::string& name, const RoutingCurve& c);
nlohmann::json curve_json(const RoutingCurve& c);

/// `switchyard train --answer-scorer` and `switchyard eval --cascade` (cascade_cmd.cpp).
int train_answer_scorer_cmd(int argc, char** argv);
int eval_cascade_cmd(int argc, char** argv);
int replay_main(int argc, char** argv);  ///< eval --replay (replay_cmd.cpp)
int train_from_log_cmd(int argc, char** argv);  ///< train --from-log (train_log_cmd.cpp)

}  // namespace sy::tools::cli
