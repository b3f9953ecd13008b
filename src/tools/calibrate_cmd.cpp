// switchyard calibrate: the threshold that sends a given share of prompts to the strong model (README §4).
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
#include "switchyard/core/json_tree.hpp"
#include "switchyard/learn/calibrate.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {

using namespace sy::tools::cli;

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
          auto parsed = json::parse_tree<nlohmann::json>(line);  // the JSON guard first: bounded depth and size
          if (!parsed) return fail("calibrate", f + ":" + std::to_string(lineno) + ": " + parsed.error().message);
          const nlohmann::json& j = *parsed;
          if (!j.is_object()) return fail("calibrate", f + ":" + std::to_string(lineno) + ": not a JSON object");
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
        for (const Example& e : d->examples) scores.push_back(model->score(e.prompt, e.conversation));
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

}  // namespace sy::tools
