// `switchyard train-semantic`: trains the logistic head of a config's semantic stage on its route
// utterances and writes the head file the stage loads with `classifier: {type: logistic, head: FILE}`.
// The routes and the embedder are built exactly as the stage builds them (pipeline's
// semantic_training_sets), and the file records a fingerprint of them, so a stale head is refused at
// config load instead of routing with features it was not trained on.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "switchyard/pipeline/semantic_training.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {
namespace {

void usage() {
  std::fputs(
      "usage: switchyard train-semantic --config FILE [--router NAME] [--stage NAME] [--out HEAD] [options]\n"
      "  Trains the logistic head of a semantic stage on its routes' utterances (embedded by the stage's own\n"
      "  embedder) and writes HEAD, for `classifier: {type: logistic, head: HEAD}` in that stage.\n"
      "  --router NAME, --stage NAME   which semantic stage (needed when the config has several)\n"
      "  --out HEAD             output file (default: the stage's classifier.head)\n"
      "  --l2 X                 L2 regularisation (default: the stage's classifier.l2, else 1e-5)\n"
      "  --dense-scale S        feature scale of dense parts (default 2)\n"
      "  --sparse-scale S       feature scale of hashing parts (default 1)\n"
      "  --fold-bits N          fold hashing buckets into 2^N to bound the file (default 0: keep)\n"
      "  --calibration-folds N  folds for the temperature (default 5; 0 = none)\n"
      "  --max-iter N           L-BFGS iterations (default 300)\n"
      "  --quiet                no progress output\n",
      stderr);
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "train-semantic: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int train_semantic_main(int argc, char** argv) {
  std::string config_path, router, stage, out;
  std::optional<double> l2, dense_scale, sparse_scale;
  std::optional<long> fold_bits, folds, max_iter;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    }
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "train-semantic: %s needs a value\n", a.c_str());
      usage();
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (a == "--config") config_path = v;
      else if (a == "--router") router = v;
      else if (a == "--stage") stage = v;
      else if (a == "--out" || a == "-o") out = v;
      else if (a == "--l2") l2 = std::stod(v);
      else if (a == "--dense-scale") dense_scale = std::stod(v);
      else if (a == "--sparse-scale") sparse_scale = std::stod(v);
      else if (a == "--fold-bits") fold_bits = std::stol(v);
      else if (a == "--calibration-folds") folds = std::stol(v);
      else if (a == "--max-iter") max_iter = std::stol(v);
      else {
        std::fprintf(stderr, "train-semantic: unknown option %s\n", a.c_str());
        usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "train-semantic: bad value for %s: %s\n", a.c_str(), v.c_str());
      return 2;
    }
  }
  if (config_path.empty()) {
    usage();
    return 2;
  }
  if ((fold_bits && (*fold_bits < 0 || *fold_bits > 28)) || (folds && (*folds < 0 || *folds > 100)) ||
      (max_iter && (*max_iter < 1 || *max_iter > 100000)) || (l2 && !(*l2 >= 0)) ||
      (dense_scale && !(*dense_scale > 0)) || (sparse_scale && !(*sparse_scale > 0)))
    return fail("an option is out of range (see --help)");

  config::Diagnostics d;
  auto cfg = config::load_config_file(config_path, d);
  if (!cfg) {
    for (const auto& e : d.errors()) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  const std::string base_dir = std::filesystem::path(config_path).parent_path().string();
  if (!quiet) std::fputs("train-semantic: building the routes and the embedder as the stage does\n", stderr);
  auto sets = pipeline::semantic_training_sets(*cfg, base_dir, d);
  if (!d.errors().empty()) {
    for (const auto& e : d.errors()) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  std::vector<pipeline::SemanticTrainingSet*> match;
  for (auto& s : sets)
    if ((router.empty() || s.router == router) && (stage.empty() || s.stage == stage)) match.push_back(&s);
  if (match.empty()) return fail("no semantic stage" + (router.empty() ? std::string() : " in router " + router) +
                                 (stage.empty() ? std::string() : " named " + stage) + " in " + config_path);
  if (match.size() > 1) {
    std::string which;
    for (auto* s : match) which += " " + s->router + "/" + s->stage;
    return fail("several semantic stages (" + which.substr(1) + "): choose one with --router and --stage");
  }
  pipeline::SemanticTrainingSet& set = *match.front();
  if (out.empty()) out = set.head_path;
  if (out.empty()) return fail("--out is required (the stage names no classifier.head)");

  embed::HeadOptions o = set.head;
  if (l2) o.l2 = *l2;
  if (dense_scale) o.dense_scale = static_cast<float>(*dense_scale);
  if (sparse_scale) o.sparse_scale = static_cast<float>(*sparse_scale);
  if (fold_bits) o.fold_bits = static_cast<std::uint32_t>(*fold_bits);
  if (folds) o.calibration_folds = static_cast<std::size_t>(*folds);
  if (max_iter) o.max_iterations = static_cast<int>(*max_iter);
  if (!quiet) {
    o.progress = [last = std::string()](std::string_view what, double f) mutable {
      if (what != last) std::fprintf(stderr, "train-semantic: %.*s\n", static_cast<int>(what.size()), what.data());
      last = std::string(what);
      (void)f;
    };
  }

  std::size_t utterances = 0;
  std::vector<std::string> names;
  std::vector<std::string_view> texts;
  for (const auto& r : set.routes) {
    names.push_back(r.name);
    utterances += r.utterances.size();
    texts.insert(texts.end(), r.utterances.begin(), r.utterances.end());
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (!quiet)
    std::fprintf(stderr, "train-semantic: %s/%s: embedding %zu utterances of %zu routes with %s\n", set.router.c_str(),
                 set.stage.c_str(), utterances, set.routes.size(), std::string(set.embedder->type()).c_str());
  std::vector<embed::Embedding> flat = set.embedder->embed_batch(texts);
  std::vector<std::vector<embed::Embedding>> vectors(set.routes.size());
  for (std::size_t r = 0, i = 0; r < set.routes.size(); ++r)
    for (std::size_t u = 0; u < set.routes[r].utterances.size(); ++u) vectors[r].push_back(std::move(flat[i++]));
  const auto t1 = std::chrono::steady_clock::now();
  auto head = embed::SemanticHead::train(names, std::string(set.embedder->type()), set.embedder->layout(), vectors, o);
  if (!head) return fail(head.error().message);
  const auto t2 = std::chrono::steady_clock::now();
  if (auto s = (*head)->save(out); !s) return fail(s.error().message);
  std::printf("%s: %s/%s, %zu routes, %zu utterances, embedder %s, %zu features, l2 %g, %d iterations, temperature %.3f; "
              "embedding %.1f s, training %.1f s, %.1f MiB\n",
              out.c_str(), set.router.c_str(), set.stage.c_str(), set.routes.size(), utterances,
              std::string(set.embedder->type()).c_str(), (*head)->features(), o.l2, (*head)->iterations(),
              static_cast<double>((*head)->temperature()), std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count(),
              static_cast<double>(std::filesystem::file_size(out)) / (1 << 20));
  return 0;
}

}  // namespace sy::tools
