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
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::learn {

struct Example {
  std::string prompt;
  std::vector<float> quality;        ///< per model of the Dataset, in [0,1]; NaN when unknown
  std::vector<float> input_tokens;   ///< per model; NaN when the data has none
  std::vector<float> output_tokens;  ///< per model; NaN when the data has none
  std::vector<float> cost;           ///< per model, USD; NaN when the data has none
  std::string group;                 ///< subject/category/file stem; training-time metadata only
  /// Per model, the answer text (`<model>_response` column / JSONL `responses`); empty when the data
  /// has none. Used by the answer scorer and `eval --cascade`.
  std::vector<std::string> response{};
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
};

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
