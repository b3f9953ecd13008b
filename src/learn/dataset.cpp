#include "switchyard/learn/dataset.hpp"

#include <glob.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "switchyard/learn/csv.hpp"

namespace sy::learn {
namespace fs = std::filesystem;
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// True/False, yes/no, or a number. nullopt for anything else (including empty).
std::optional<float> parse_score(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  const std::string l = lower(s);
  if (l == "true" || l == "yes") return 1.0f;
  if (l == "false" || l == "no") return 0.0f;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return static_cast<float>(v);
}

bool ends_with(std::string_view s, std::string_view suffix, std::string_view& stem) {
  if (s.size() <= suffix.size() || !s.ends_with(suffix)) return false;
  stem = s.substr(0, s.size() - suffix.size());
  return true;
}

bool is_group_column(std::string_view name) {
  const std::string l = lower(name);
  return l == "group" || l == "subject" || l == "category";
}

/// Columns of one model in a file.
struct ModelColumns {
  int quality = -1, response = -1, input_tokens = -1, output_tokens = -1, cost = -1;
};

struct FileData {
  std::vector<std::string> models;  // in file order
  std::vector<Example> examples;
};

Result<FileData> load_csv_file(const std::string& path, const std::string& text) {
  auto parsed = parse_csv(text);
  if (!parsed) return Error::bad_request(path + ": " + parsed.error().message);
  std::vector<CsvRow>& rows = *parsed;
  if (rows.empty()) return Error::bad_request(path + ": empty CSV");
  const CsvRow& head = rows[0];
  int prompt_col = -1, group_col = -1;
  std::vector<std::pair<std::string, ModelColumns>> models;
  auto model = [&](std::string_view name) -> ModelColumns& {
    for (auto& [n, c] : models)
      if (n == name) return c;
    models.emplace_back(std::string(name), ModelColumns{});
    return models.back().second;
  };
  for (std::size_t c = 0; c < head.size(); ++c) {
    const std::string& name = head[c];
    const int ci = static_cast<int>(c);
    std::string_view stem;
    if (lower(name) == "prompt") prompt_col = ci;
    else if (is_group_column(name)) group_col = ci;
    else if (ends_with(name, "_response", stem)) model(stem).response = ci;
    else if (ends_with(name, "_input_tokens", stem)) model(stem).input_tokens = ci;
    else if (ends_with(name, "_output_tokens", stem)) model(stem).output_tokens = ci;
    else if (ends_with(name, "_cost", stem)) model(stem).cost = ci;
    else if (rows.size() > 1 && c < rows[1].size() && parse_score(rows[1][c])) model(name).quality = ci;
  }
  if (prompt_col < 0) return Error::bad_request(path + ": no 'prompt' column");
  std::erase_if(models, [](const auto& m) { return m.second.quality < 0; });
  if (models.empty()) return Error::bad_request(path + ": no model score columns (True/False or numbers)");
  FileData out;
  for (auto& [n, c] : models) out.models.push_back(n);
  const std::string stem = fs::path(path).stem().string();
  auto cell = [](const CsvRow& r, int c) -> std::string_view {
    return c >= 0 && static_cast<std::size_t>(c) < r.size() ? std::string_view(r[static_cast<std::size_t>(c)]) : std::string_view();
  };
  out.examples.reserve(rows.size() - 1);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const CsvRow& r = rows[i];
    if (r.size() != head.size())
      return Error::bad_request(path + ": record " + std::to_string(i + 1) + " has " + std::to_string(r.size()) +
                                " fields, header has " + std::to_string(head.size()));
    Example e;
    e.prompt = std::string(cell(r, prompt_col));
    e.group = group_col >= 0 ? std::string(cell(r, group_col)) : stem;
    for (auto& [n, c] : models) {
      e.quality.push_back(parse_score(cell(r, c.quality)).value_or(kNaN));
      e.input_tokens.push_back(parse_score(cell(r, c.input_tokens)).value_or(kNaN));
      float out_tokens = parse_score(cell(r, c.output_tokens)).value_or(kNaN);
      if (std::isnan(out_tokens) && c.response >= 0) out_tokens = static_cast<float>(cell(r, c.response).size()) / 4.0f;
      e.output_tokens.push_back(out_tokens);
      e.cost.push_back(parse_score(cell(r, c.cost)).value_or(kNaN));
      e.response.emplace_back(c.response >= 0 ? cell(r, c.response) : std::string_view());
    }
    out.examples.push_back(std::move(e));
  }
  return out;
}

float json_number(const nlohmann::json& j) {
  if (j.is_boolean()) return j.get<bool>() ? 1.0f : 0.0f;
  if (j.is_number()) return j.get<float>();
  if (j.is_string()) return parse_score(j.get<std::string>()).value_or(kNaN);
  return kNaN;
}

Result<FileData> load_jsonl_file(const std::string& path, const std::string& text) {
  FileData out;
  const std::string stem = fs::path(path).stem().string();
  std::istringstream in(text);
  std::string line;
  std::size_t lineno = 0;
  auto model_index = [&](const std::string& name) {
    auto it = std::find(out.models.begin(), out.models.end(), name);
    if (it != out.models.end()) return static_cast<std::size_t>(it - out.models.begin());
    out.models.push_back(name);
    for (Example& e : out.examples) {
      e.quality.push_back(kNaN);
      e.input_tokens.push_back(kNaN);
      e.output_tokens.push_back(kNaN);
      e.cost.push_back(kNaN);
      e.response.emplace_back();
    }
    return out.models.size() - 1;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& ex) {
      return Error::bad_request(path + ":" + std::to_string(lineno) + ": " + ex.what());
    }
    if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
      return Error::bad_request(path + ":" + std::to_string(lineno) + ": needs a string field 'prompt'");
    Example e;
    e.prompt = j["prompt"].get<std::string>();
    e.group = stem;
    for (const char* g : {"group", "subject", "category"})
      if (j.contains(g) && j[g].is_string()) e.group = j[g].get<std::string>();
    std::vector<std::pair<std::string, float>> scores;
    if (j.contains("scores") && j["scores"].is_object()) {
      for (auto& [k, v] : j["scores"].items()) scores.emplace_back(k, json_number(v));
    } else {
      for (auto& [k, v] : j.items())
        if ((v.is_boolean() || v.is_number()) && k != "prompt") scores.emplace_back(k, json_number(v));
    }
    if (scores.empty()) return Error::bad_request(path + ":" + std::to_string(lineno) + ": no model scores");
    const std::size_t nm_before = out.models.size();
    e.quality.assign(nm_before, kNaN);
    e.input_tokens.assign(nm_before, kNaN);
    e.output_tokens.assign(nm_before, kNaN);
    e.cost.assign(nm_before, kNaN);
    e.response.assign(nm_before, std::string());
    out.examples.push_back(std::move(e));
    Example& ex = out.examples.back();
    for (auto& [k, v] : scores) ex.quality[model_index(k)] = v;
    auto per_model = [&](const char* field, std::vector<float> Example::*member) {
      if (!j.contains(field) || !j[field].is_object()) return;
      for (auto& [k, v] : j[field].items()) (ex.*member)[model_index(k)] = json_number(v);
    };
    per_model("input_tokens", &Example::input_tokens);
    per_model("output_tokens", &Example::output_tokens);
    per_model("cost", &Example::cost);
    if (j.contains("responses") && j["responses"].is_object()) {
      for (auto& [k, v] : j["responses"].items()) {
        std::size_t m = model_index(k);
        if (!v.is_string()) continue;
        ex.response[m] = v.get<std::string>();
        if (std::isnan(ex.output_tokens[m])) ex.output_tokens[m] = static_cast<float>(ex.response[m].size()) / 4.0f;
      }
    }
  }
  if (out.examples.empty()) return Error::bad_request(path + ": no examples");
  return out;
}

}  // namespace

int Dataset::model_index(std::string_view name) const {
  for (std::size_t i = 0; i < models.size(); ++i)
    if (models[i] == name) return static_cast<int>(i);
  return -1;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error::bad_request("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(a, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".csv" || ext == ".jsonl") &&
            entry.path().filename() != "contaminated_prompts.jsonl")
          files.push_back(entry.path().string());
      }
      if (files.empty()) return Error::bad_request(a + ": no .csv or .jsonl files in directory");
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (a.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      int rc = ::glob(a.c_str(), 0, nullptr, &g);
      if (rc != 0) {
        globfree(&g);
        return Error::bad_request(a + ": no files match");
      }
      std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      globfree(&g);
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else {
      if (!fs::is_regular_file(a, ec)) return Error::bad_request(a + ": no such file");
      out.push_back(a);
    }
  }
  if (out.empty()) return Error::bad_request("no input files");
  return out;
}

Result<std::vector<std::string>> load_contaminated(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  std::vector<std::string> out;
  std::istringstream in(*text);
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      auto j = nlohmann::json::parse(line);
      // RouteLLM matches the evaluation set's prompt (`eval_prompt`); `prompt` is accepted too.
      if (j.contains("eval_prompt")) out.push_back(j["eval_prompt"].get<std::string>());
      else if (j.contains("prompt")) out.push_back(j["prompt"].get<std::string>());
      else return Error::bad_request(path + ":" + std::to_string(lineno) + ": needs 'eval_prompt' or 'prompt'");
    } catch (const std::exception& e) {
      return Error::bad_request(path + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return out;
}

Result<Dataset> load_dataset(const std::vector<std::string>& inputs, const LoadOptions& opts, LoadReport* report) {
  auto files = expand_inputs(inputs);
  if (!files) return std::move(files).error();
  LoadReport rep;
  Dataset data;
  data.models = opts.models;
  std::vector<std::string> contaminated_files = opts.contaminated_files;
  for (const std::string& path : *files) {
    auto text = read_file(path);
    if (!text) return std::move(text).error();
    const bool jsonl = fs::path(path).extension() == ".jsonl";
    auto fd = jsonl ? load_jsonl_file(path, *text) : load_csv_file(path, *text);
    if (!fd) return std::move(fd).error();
    if (data.models.empty()) data.models = fd->models;
    // Map this file's model columns onto the dataset's model order.
    std::vector<int> map;
    for (const std::string& m : data.models) {
      auto it = std::find(fd->models.begin(), fd->models.end(), m);
      if (it == fd->models.end()) return Error::bad_request(path + ": has no column for model '" + m + "'");
      map.push_back(static_cast<int>(it - fd->models.begin()));
    }
    for (Example& e : fd->examples) {
      Example o;
      o.prompt = std::move(e.prompt);
      o.group = std::move(e.group);
      for (int k : map) {
        const auto ku = static_cast<std::size_t>(k);
        o.quality.push_back(e.quality[ku]);
        o.input_tokens.push_back(e.input_tokens[ku]);
        o.output_tokens.push_back(e.output_tokens[ku]);
        o.cost.push_back(e.cost[ku]);
        o.response.push_back(ku < e.response.size() ? std::move(e.response[ku]) : std::string());
      }
      data.examples.push_back(std::move(o));
    }
    rep.rows_read += fd->examples.size();
    data.sources.push_back(path);
    if (opts.find_contaminated) {
      const fs::path dir = fs::path(path).parent_path();
      for (const fs::path& cand : {dir / "contaminated_prompts.jsonl", dir.parent_path() / "contaminated_prompts.jsonl"}) {
        std::error_code ec;
        const std::string c = cand.lexically_normal().string();
        if (fs::is_regular_file(cand, ec) &&
            std::find(contaminated_files.begin(), contaminated_files.end(), c) == contaminated_files.end())
          contaminated_files.push_back(c);
      }
    }
  }
  std::unordered_set<std::string> drop;
  for (const std::string& c : contaminated_files) {
    auto prompts = load_contaminated(c);
    if (!prompts) return std::move(prompts).error();
    drop.insert(prompts->begin(), prompts->end());
    rep.contaminated_files_used.push_back(c);
  }
  if (!drop.empty()) {
    const std::size_t before = data.examples.size();
    std::erase_if(data.examples, [&](const Example& e) { return drop.count(e.prompt) > 0; });
    rep.dropped_contaminated = before - data.examples.size();
  }
  if (data.examples.empty()) return Error::bad_request("no examples left after loading");
  if (report) *report = rep;
  return data;
}

}  // namespace sy::learn
