#pragma once
/// Labelled routing data: prompts with, per model, how well the model did. Loaded from the RouteLLM
/// CSVs as they are, from other CSVs of the same shape, or from JSONL. Plain values, no shared state.
///
/// CSV columns: `prompt` (required); one column per model holding True/False, 0/1 or a score in [0,1];
/// optional `<model>_response` (answer text, used to estimate output tokens), `<model>_input_tokens`,
/// `<model>_output_tokens`, `<model>_cost` (USD for this prompt). Optional `group`, `subject` or
/// `category` column; otherwise the group of a row is the file's stem (`mmlu_anatomy`).
///
/// JSONL, one object per line: `{"prompt": "...", "scores": {"model-a": 1, "model-b": 0.4},
/// "group": "optional", "input_tokens": {"model-a": 812}, "output_tokens": {...}, "cost": {...},
/// "responses": {...}}`. A line without `scores` may give the models as top-level boolean/number fields.
///
/// Label types (README §1): binary (True/False, 0/1), graded (any number; a file whose scores exceed 1 is
/// read as a 1–10 judge scale, or 0–10 / 0–100, and normalised to [0,1]; a JSONL line may name its scale
/// with `"score_range": [lo, hi]`), and preference pairs (JSONL `{"prompt", "model_a", "model_b",
/// "winner": "model_a"|"model_b"|"tie"|"tie (bothbad)"}`, Chatbot Arena's shape): the winner scores 1 and
/// the loser 0, a tie 0.5 each, "both bad" 0 each. Preference rows say which model was better, not how good
/// either was, so they train the route head only. Every row has a weight: its `weight` field/column
/// (default 1) times the weight of its source (`LoadOptions::source_weights`).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/features.hpp"

namespace sy::learn {

struct Example {
  std::string prompt;  ///< the scored text: the prompt, or a conversation's last user message
  std::vector<float> quality;        ///< per model of the Dataset, in [0,1]; NaN when unknown
  std::vector<float> input_tokens;   ///< per model; NaN when the data has none
  std::vector<float> output_tokens;  ///< per model; NaN when the data has none
  std::vector<float> cost;           ///< per model, USD; NaN when the data has none
  std::string group;                 ///< subject/category/file stem; training-time metadata only
  /// Per model, the answer text (`<model>_response` column / JSONL `responses`); empty when the data
  /// has none. Used by the answer scorer and `eval --cascade`.
  std::vector<std::string> response{};
  /// Which dataset the row came from (see LoadOptions): the unit of leave-one-dataset-out evaluation
  /// and of per-source weights.
  std::string source{};
  float weight = 1.0f;      ///< training weight: the row's own weight times its source's weight
  bool preference = false;  ///< a preference pair (relative label): route head only, no quality heads
  /// The rest of the conversation, reduced (JSONL `messages`); one bare prompt for `prompt` rows. Last, so
  /// that aggregate initialisation of the fields above keeps working.
  ConversationShape conversation{};
};

struct Dataset {
  std::vector<std::string> models;
  std::vector<Example> examples;
  std::vector<std::string> sources;  ///< the files read, in order

  /// Index of a model by name, or -1.
  int model_index(std::string_view name) const;
};

struct LoadOptions {
  /// Models to keep, in this order; empty keeps every model column found.
  std::vector<std::string> models;
  /// Files whose prompts to drop (`contaminated_prompts.jsonl`: fields `eval_prompt` or `prompt`).
  std::vector<std::string> contaminated_files;
  /// Also look for `contaminated_prompts.jsonl` next to each input file and in its parent directory.
  bool find_contaminated = true;
  /// Per-source weight multipliers (source name -> weight); sources not listed keep 1.
  std::vector<std::pair<std::string, double>> source_weights;
  /// Scale each source's weights so that every source carries the same total weight (before
  /// source_weights): a 1,300-prompt benchmark then counts as much as a 14,000-prompt one.
  bool balance_sources = false;
};

/// The source name of one input argument: `NAME=PATH` gives NAME; otherwise the file stem or directory
/// name, where a directory called `responses` or `data` takes its parent's name (RouteLLM's MMLU
/// directory `mmlu/responses` is `mmlu`). `path` receives the argument without the `NAME=` prefix.
std::string source_name(const std::string& arg, std::string* path = nullptr);

/// Every directory under `root` (recursively, sorted) that directly holds .csv/.jsonl data files, as
/// `NAME=DIR` inputs for load_dataset: the datasets of a data folder such as ../shared/data.
Result<std::vector<std::string>> discover_datasets(const std::string& root);

struct LoadReport {
  std::size_t rows_read = 0;
  std::size_t dropped_contaminated = 0;
  std::vector<std::string> contaminated_files_used;
};

/// Expands each argument: a directory gives its *.csv and *.jsonl files (sorted), a pattern with `*`
/// or `?` in the file name gives the matching files (sorted), anything else is taken as a file.
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& args);

/// Reads every input (see expand_inputs); all files must name the same models (or a superset of
/// `opts.models`). Drops contaminated prompts. Errors name the file and line.
Result<Dataset> load_dataset(const std::vector<std::string>& inputs, const LoadOptions& opts,
                             LoadReport* report = nullptr);

/// Prompts listed in a contaminated-prompts JSONL file.
Result<std::vector<std::string>> load_contaminated(const std::string& path);

/// Reads a whole file.
Result<std::string> read_file(const std::string& path);

}  // namespace sy::learn
