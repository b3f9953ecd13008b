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

#include "switchyard/core/ascii.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/learn/csv.hpp"

namespace sy::learn {
namespace fs = std::filesystem;
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// True/False, yes/no, or a number. nullopt for anything else (including empty).
std::optional<float> parse_score(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  const std::string l = ascii_lower(s);
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
  const std::string l = ascii_lower(name);
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
  int prompt_col = -1, group_col = -1, weight_col = -1;
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
    if (ascii_lower(name) == "prompt") prompt_col = ci;
    else if (is_group_column(name)) group_col = ci;
    else if (ascii_lower(name) == "weight") weight_col = ci;
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
    if (weight_col >= 0) e.weight = parse_score(cell(r, weight_col)).value_or(1.0f);
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

/// Graded scores: a file whose scores go above 1 is on a judge scale. 1–10 (RouteLLM's / MT-Bench's
/// judge scale) when every score is in [1,10], otherwise 0–10 or 0–100; anything else is an error.
Result<bool> normalise_graded(const std::string& path, FileData& fd) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (const Example& e : fd.examples)
    for (float q : e.quality)
      if (!std::isnan(q)) {
        lo = std::min(lo, q);
        hi = std::max(hi, q);
      }
  if (!(hi > 1.0f)) {
    if (lo < 0.0f) return Error::bad_request(path + ": negative score " + std::to_string(lo));
    return true;  // binary or already in [0,1]
  }
  float base = 0, span = 0;
  if (lo >= 1.0f && hi <= 10.0f) base = 1, span = 9;
  else if (lo >= 0.0f && hi <= 10.0f) span = 10;
  else if (lo >= 0.0f && hi <= 100.0f) span = 100;
  else return Error::bad_request(path + ": scores from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                 " are on no known scale (1-10, 0-10, 0-100); give score_range per line");
  for (Example& e : fd.examples)
    for (float& q : e.quality)
      if (!std::isnan(q)) q = (q - base) / span;
  return true;
}

float json_number(const nlohmann::json& j) {
  if (j.is_boolean()) return j.get<bool>() ? 1.0f : 0.0f;
  if (j.is_number()) return j.get<float>();
  if (j.is_string()) return parse_score(j.get<std::string>()).value_or(kNaN);
  return kNaN;
}

Result<FileData> load_jsonl_file(const std::string& path, const std::string& text) {
  using nlohmann::json;
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
    auto parsed = sy::json::parse_tree<json>(line);  // the JSON guard first: bounded depth and size
    if (!parsed) return Error::bad_request(path + ":" + std::to_string(lineno) + ": " + parsed.error().message);
    json j = std::move(*parsed);
    const bool has_messages = j.is_object() && j.contains("messages") && j["messages"].is_array();
    if (!j.is_object() || (!has_messages && (!j.contains("prompt") || !j["prompt"].is_string())))
      return Error::bad_request(path + ":" + std::to_string(lineno) + ": needs a string field 'prompt' or an array 'messages'");
    Example e;
    if (has_messages) {
      // A conversation (OpenAI chat shape): the scored text is the last user message, the rest its shape,
      // exactly as the learned stage sees a request.
      std::vector<std::pair<std::string, std::string>> msgs;
      for (const json& m : j["messages"]) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
          return Error::bad_request(path + ":" + std::to_string(lineno) + ": every message needs a string 'role'");
        std::string text;
        if (m.contains("content") && m["content"].is_string()) {
          text = m["content"].get<std::string>();
        } else if (m.contains("content") && m["content"].is_array()) {
          for (const json& part : m["content"])
            if (part.is_object() && part.contains("text") && part["text"].is_string()) {
              if (!text.empty()) text += '\n';
              text += part["text"].get<std::string>();
            }
        }
        msgs.emplace_back(m["role"].get<std::string>(), std::move(text));
      }
      if (msgs.empty()) return Error::bad_request(path + ":" + std::to_string(lineno) + ": 'messages' is empty");
      std::vector<ChatMessageView> views;
      for (const auto& [role, text] : msgs) views.push_back({role, text});
      std::size_t scored = 0;
      e.conversation = conversation_shape(views, &scored);
      e.prompt = msgs[scored].second;
    } else {
      e.prompt = j["prompt"].get<std::string>();
    }
    e.group = stem;
    for (const char* g : {"group", "subject", "category"})
      if (j.contains(g) && j[g].is_string()) e.group = j[g].get<std::string>();
    if (j.contains("weight") && j["weight"].is_number()) e.weight = j["weight"].get<float>();
    if (j.contains("source") && j["source"].is_string()) e.source = j["source"].get<std::string>();
    std::vector<std::pair<std::string, float>> scores;
    if (j.contains("winner") && j.contains("model_a") && j.contains("model_b")) {
      // A preference pair (Chatbot Arena's shape).
      if (!j["model_a"].is_string() || !j["model_b"].is_string() || !j["winner"].is_string())
        return Error::bad_request(path + ":" + std::to_string(lineno) + ": model_a, model_b and winner must be strings");
      const std::string w = ascii_lower(j["winner"].get<std::string>());
      float qa = 0, qb = 0;
      if (w == "model_a" || w == "a") qa = 1;
      else if (w == "model_b" || w == "b") qb = 1;
      else if (w == "tie") qa = qb = 0.5f;
      else if (w == "tie (bothbad)" || w == "both_bad" || w == "bothbad") qa = qb = 0;
      else return Error::bad_request(path + ":" + std::to_string(lineno) + ": winner must be model_a, model_b, tie or tie (bothbad)");
      scores.emplace_back(j["model_a"].get<std::string>(), qa);
      scores.emplace_back(j["model_b"].get<std::string>(), qb);
      e.preference = true;
    } else if (j.contains("scores") && j["scores"].is_object()) {
      for (auto& [k, v] : j["scores"].items()) scores.emplace_back(k, json_number(v));
    } else {
      for (auto& [k, v] : j.items())
        if ((v.is_boolean() || v.is_number()) && k != "prompt" && k != "weight") scores.emplace_back(k, json_number(v));
    }
    if (j.contains("score_range")) {
      const json& r = j["score_range"];
      if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number() || !(r[1].get<double>() > r[0].get<double>()))
        return Error::bad_request(path + ":" + std::to_string(lineno) + ": score_range must be [lo, hi] with lo < hi");
      const float lo = r[0].get<float>(), hi = r[1].get<float>();
      for (auto& [k, v] : scores)
        if (!std::isnan(v)) v = std::clamp((v - lo) / (hi - lo), 0.0f, 1.0f);
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
    auto parsed = sy::json::parse_tree<nlohmann::json>(line);  // the JSON guard first: bounded depth and size
    if (!parsed) return Error::bad_request(path + ":" + std::to_string(lineno) + ": " + parsed.error().message);
    try {
      const nlohmann::json& j = *parsed;
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

std::string source_name(const std::string& arg, std::string* path) {
  std::string p = arg;
  std::string name;
  if (auto eq = arg.find('='); eq != std::string::npos && eq > 0 && arg.find('/') > eq) {
    name = arg.substr(0, eq);
    p = arg.substr(eq + 1);
  }
  if (path) *path = p;
  if (!name.empty()) return name;
  fs::path fp = fs::path(p).lexically_normal();
  if (!fp.has_filename()) fp = fp.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  if (p.find_first_of("*?[") != std::string::npos) fp = fp.parent_path();  // a glob: its directory
  else if (!fs::is_directory(fp, ec)) return fp.stem().string();
  while (fp.has_parent_path() && (fp.filename() == "responses" || fp.filename() == "data")) fp = fp.parent_path();
  return fp.filename().string();
}

Result<std::vector<std::string>> discover_datasets(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Error::bad_request(root + ": not a directory");
  std::vector<std::string> dirs;
  auto holds_data = [](const fs::path& d) {
    std::error_code e2;
    for (const auto& entry : fs::directory_iterator(d, e2)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".csv" || ext == ".jsonl") && entry.path().filename() != "contaminated_prompts.jsonl")
        return true;
    }
    return false;
  };
  if (holds_data(root)) dirs.push_back(root);
  for (const auto& entry : fs::recursive_directory_iterator(root, ec))
    if (entry.is_directory() && holds_data(entry.path())) dirs.push_back(entry.path().string());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) return Error::bad_request(root + ": no directory with .csv or .jsonl data files");
  std::vector<std::string> out;
  for (const std::string& d : dirs) out.push_back(source_name(d) + "=" + d);
  return out;
}

Result<Dataset> load_dataset(const std::vector<std::string>& inputs, const LoadOptions& opts, LoadReport* report) {
  // Each argument is one source; expand them one by one so that every file knows its source.
  std::vector<std::pair<std::string, std::string>> files;  // (file, source)
  for (const std::string& arg : inputs) {
    std::string path;
    const std::string source = source_name(arg, &path);
    auto expanded = expand_inputs({path});
    if (!expanded) return std::move(expanded).error();
    for (std::string& f : *expanded) files.emplace_back(std::move(f), source);
  }
  if (files.empty()) return Error::bad_request("no input files");
  LoadReport rep;
  Dataset data;
  data.models = opts.models;
  std::vector<std::string> contaminated_files = opts.contaminated_files;
  for (const auto& [path, source] : files) {
    auto text = read_file(path);
    if (!text) return std::move(text).error();
    const bool jsonl = fs::path(path).extension() == ".jsonl";
    auto fd = jsonl ? load_jsonl_file(path, *text) : load_csv_file(path, *text);
    if (!fd) return std::move(fd).error();
    if (auto g = normalise_graded(path, *fd); !g) return std::move(g).error();
    if (data.models.empty()) data.models = fd->models;
    // Map this file's model columns onto the dataset's model order. JSONL files (preference pairs, judge
    // scores) may leave a model out: its scores are unknown there. A CSV must have every column.
    std::vector<int> map;
    for (const std::string& m : data.models) {
      auto it = std::find(fd->models.begin(), fd->models.end(), m);
      if (it == fd->models.end() && !jsonl) return Error::bad_request(path + ": has no column for model '" + m + "'");
      map.push_back(it == fd->models.end() ? -1 : static_cast<int>(it - fd->models.begin()));
    }
    if (jsonl && std::all_of(map.begin(), map.end(), [](int k) { return k < 0; }))
      return Error::bad_request(path + ": names none of the models " + (data.models.empty() ? std::string() : data.models.front()) + ", ...");
    for (Example& e : fd->examples) {
      Example o;
      o.prompt = std::move(e.prompt);
      o.conversation = e.conversation;
      o.group = std::move(e.group);
      o.source = e.source.empty() ? source : std::move(e.source);
      o.weight = e.weight;
      o.preference = e.preference;
      for (int k : map) {
        if (k < 0) {
          o.quality.push_back(kNaN);
          o.input_tokens.push_back(kNaN);
          o.output_tokens.push_back(kNaN);
          o.cost.push_back(kNaN);
          o.response.emplace_back();
          continue;
        }
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
  if (opts.balance_sources || !opts.source_weights.empty()) {
    std::vector<std::pair<std::string, double>> total;  // source -> sum of row weights
    auto slot = [&](const std::string& s) -> double& {
      for (auto& [n, v] : total)
        if (n == s) return v;
      total.emplace_back(s, 0.0);
      return total.back().second;
    };
    double all = 0;
    for (const Example& e : data.examples) {
      slot(e.source) += e.weight;
      all += e.weight;
    }
    for (Example& e : data.examples) {
      double w = e.weight;
      if (opts.balance_sources && slot(e.source) > 0)
        w *= all / (static_cast<double>(total.size()) * slot(e.source));
      for (const auto& [n, sw] : opts.source_weights)
        if (n == e.source) w *= sw;
      e.weight = static_cast<float>(w);
    }
  }
  if (report) *report = rep;
  return data;
}

}  // namespace sy::learn
