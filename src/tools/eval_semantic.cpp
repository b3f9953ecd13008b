// `switchyard eval-semantic`: the CLINC150 protocol of shared/notes/routing-eval.md.
//
// For each embedder and each k: routes are the first k training utterances of every intent; report
// in-scope accuracy on `test` with no fallback, a global threshold tuned on `val` + `oos_val`, the
// accuracy on `test` + `oos_test` with that threshold (out-of-scope counts as correct when it goes to
// the fallback), the per-query routing time (embed + score, p50/p99) and the utterance index memory.
// Embeddings of the dense model are computed once per distinct text, on all cores.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/hybrid_embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "switchyard/embed/semantic_index.hpp"
#include "switchyard/embed/semantic_mlp.hpp"
#include "switchyard/embed/use_lite_embedder.hpp"
#include "switchyard/tools/tools.hpp"

namespace sy::tools {
namespace {

using sy::embed::Embedding;
using sy::embed::SemanticIndex;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string data = "../shared/data/clinc150/data_full.json";
  std::string model;  // empty = UseLiteEmbedder::default_model_path()
  std::vector<std::string> embedders = {"hashing", "use-lite", "hybrid"};
  bool embedders_given = false;
  bool fp16 = false;             // use-lite with half-precision weights  // explicit --embedders: a missing model is then an error, not a skip
  std::vector<std::size_t> ks = {5, 10, 100};
  std::vector<sy::embed::Aggregation> aggregations = {sy::embed::Aggregation::centroid};
  std::size_t top_k = 3;
  float hybrid_weight = 0.5f;  // weight of hashing in the hybrid
  sy::embed::HashingOptions hashing;
  std::size_t timing_queries = 500;  // test queries timed end to end per configuration
  unsigned threads = 0;              // 0 = hardware concurrency
  std::string json_path;
  bool balanced = true;  // tune the threshold for mean(in-scope accuracy, oos recall), not plain accuracy
  std::vector<std::string> classifiers = {"centroid"};
  std::vector<double> l2s = {1e-5};  // head regularisation, one row per value
  float head_dense_scale = 2.0f, head_sparse_scale = 1.0f;
  std::uint32_t head_fold_bits = 0;
  std::size_t calibration_folds = 5;
  int head_iterations = 300;
  float mix = 0.5f;  // logistic-mix: probability + mix * centroid similarity
  std::size_t augment = 0;  // word-dropout variants per utterance added to the head's training data
  std::string dense_cache;  // file of use-lite vectors keyed by the texts (skips the slow part on re-runs)
  std::vector<std::size_t> hidden = {256};  // mlp: hidden units, one row each (defaults: chosen on val, k=10)
  bool mlp_hidden_sparse = false;           // mlp: the hashing parts enter the hidden layer too
  bool mlp_skip_dense = true, mlp_skip_sparse = true;  // mlp: what the linear path to the logits reads
  std::uint64_t mlp_seed = 1;
  double mlp_init = 1.0;  // mlp: standard deviation of the initial hidden pre-activations
  std::vector<double> mlp_hidden_l2s = {1e-4};  // mlp: L2 of the hidden path, one row each (< 0: = --l2)
};

void usage() {
  std::fputs(
      "usage: switchyard eval-semantic [options]\n"
      "  --data FILE          CLINC150 data_full.json (default ../shared/data/clinc150/data_full.json)\n"
      "  --embedders LIST     comma list of hashing,use-lite,hybrid (default: all; use-lite and hybrid\n"
      "                       are skipped when the model blob is missing)\n"
      "  --k LIST             utterances per route, comma list (default 5,10,100)\n"
      "  --model FILE         use-lite blob (default $SWITCHYARD_MODELS/use-lite-0.2.0.bin,\n"
      "                       made by scripts/fetch-use-lite.sh)\n"
      "  --aggregation LIST   comma list of centroid, max, top_k_mean (default centroid)\n"
      "  --top-k N            k of top_k_mean (default 3)\n"
      "  --hybrid-weight W    share of the hashing similarity in the hybrid (default 0.5)\n"
      "  --word-weight W      share of word features in hashing (default 0.5)\n"
      "  --bucket-bits N      hashing buckets = 2^N (default 18)\n"
      "  --char-ngrams A-B    hashing character n-gram lengths (default 3-5)\n"
      "  --timing-queries N   test queries timed end to end per configuration (default 500)\n"
      "  --threads N          threads for the dense embeddings (default: all cores)\n"
      "  --fp16               use-lite with half-precision weights (faster on short prompts)\n"
      "  --objective OBJ      what the threshold maximises on val + oos_val: balanced (default: the mean\n"
      "                       of in-scope accuracy and oos recall, independent of val's 3 % share of\n"
      "                       out-of-scope queries) or accuracy (plain accuracy on val + oos_val)\n"
      "  --classifier LIST    comma list of centroid (similarity to the route centroids), logistic (the trained\n"
      "                       head: argmax and confidence = calibrated probability), logistic-sim (head's route,\n"
      "                       confidence = its centroid similarity), logistic-mix (probability + W * similarity,\n"
      "                       W = --mix), mlp / mlp-sim (one-hidden-layer ReLU head, experimental: confidence =\n"
      "                       its softmax probability / its route's centroid similarity) (default centroid)\n"
      "  --l2 LIST            head L2 regularisation (mlp: of its linear path), one row each (default 1e-5;\n"
      "                       tune on the val columns)\n"
      "  --dense-scale S      head feature scale of the dense part (default 2)\n"
      "  --sparse-scale S     head feature scale of the hashing parts (default 1)\n"
      "  --fold-bits N        fold the head's hashing buckets into 2^N (default 0: no folding)\n"
      "  --calibration-folds N  folds for the head's temperature (default 5; 0 = none)\n"
      "  --head-iterations N  L-BFGS iterations (default 300)\n"
      "  --augment N          train the head also on up to N copies of each utterance with one word left\n"
      "                       out (default 0)\n"
      "  --mix W              weight of the similarity in logistic-mix (default 0.5)\n"
      "  --hidden LIST        mlp: hidden ReLU units, one row each (default 256)\n"
      "  --mlp-hidden-inputs dense|all  mlp: features entering the hidden layer (default dense)\n"
      "  --mlp-skip none|sparse|all     mlp: features with a linear path to the logits (default all)\n"
      "  --mlp-seed N         mlp: seed of the initial weights (default 1)\n"
      "  --mlp-hidden-l2 LIST mlp: L2 of the hidden path (W1, W2), one row each (default 1e-4; -1 = --l2);\n"
      "                       --l2 is the linear path's\n"
      "  --mlp-init S         mlp: standard deviation of the initial hidden pre-activations (default 1)\n"
      "  --dense-cache FILE   keep the use-lite vectors in FILE, reused when the texts match (keyed by the texts only:\n"
      "                       delete it after changing --model or --fp16)\n"
      "  --json FILE          also write the results as JSON\n",
      stderr);
}

template <class T>
std::vector<T> split_list(const std::string& s, T (*conv)(const std::string&)) {
  std::vector<T> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(conv(item));
  return out;
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "eval-semantic: %s needs a value\n", a.c_str());
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (a == "-h" || a == "--help") {
      usage();
      return std::nullopt;
    }
    if (a == "--fp16") {
      o.fp16 = true;
      continue;
    }
    static const char* const kFlags[] = {"--data", "--model", "--embedders", "--k", "--aggregation", "--top-k",
                                         "--hybrid-weight", "--word-weight", "--char-ngrams", "--bucket-bits",
                                         "--timing-queries", "--threads", "--json", "--objective", "--classifier",
                                         "--l2", "--dense-scale", "--sparse-scale", "--fold-bits", "--calibration-folds",
                                         "--head-iterations", "--mix", "--dense-cache", "--augment", "--hidden",
                                         "--mlp-hidden-inputs", "--mlp-skip", "--mlp-seed", "--mlp-init", "--mlp-hidden-l2"};
    if (std::find_if(std::begin(kFlags), std::end(kFlags), [&](const char* f) { return a == f; }) == std::end(kFlags)) {
      std::fprintf(stderr, "eval-semantic: unknown option %s\n", a.c_str());
      usage();
      return std::nullopt;
    }
    auto v = value();
    if (!v) return std::nullopt;
    try {
      if (a == "--data") {
        o.data = *v;
      } else if (a == "--model") {
        o.model = *v;
      } else if (a == "--embedders") {
        o.embedders = split_list<std::string>(*v, [](const std::string& s) { return s; });
        o.embedders_given = true;
        for (const auto& e : o.embedders)
          if (e != "hashing" && e != "use-lite" && e != "hybrid") {
            std::fprintf(stderr, "eval-semantic: unknown embedder '%s'\n", e.c_str());
            return std::nullopt;
          }
      } else if (a == "--k") {
        o.ks = split_list<std::size_t>(*v, [](const std::string& s) { return static_cast<std::size_t>(std::stoul(s)); });
      } else if (a == "--aggregation") {
        o.aggregations.clear();
        for (const std::string& name : split_list<std::string>(*v, [](const std::string& x) { return x; })) {
          auto agg = sy::embed::parse_aggregation(name);
          if (!agg) {
            std::fprintf(stderr, "eval-semantic: unknown aggregation '%s'\n", name.c_str());
            return std::nullopt;
          }
          o.aggregations.push_back(*agg);
        }
      } else if (a == "--top-k") {
        o.top_k = std::stoul(*v);
      } else if (a == "--hybrid-weight") {
        o.hybrid_weight = std::stof(*v);
      } else if (a == "--word-weight") {
        o.hashing.word_weight = std::stof(*v);
      } else if (a == "--char-ngrams") {
        const auto dash = v->find('-');
        if (dash == std::string::npos) throw std::invalid_argument("want MIN-MAX");
        o.hashing.char_min = static_cast<std::uint32_t>(std::stoul(v->substr(0, dash)));
        o.hashing.char_max = static_cast<std::uint32_t>(std::stoul(v->substr(dash + 1)));
      } else if (a == "--bucket-bits") {
        o.hashing.bucket_bits = static_cast<std::uint32_t>(std::stoul(*v));
      } else if (a == "--timing-queries") {
        o.timing_queries = std::stoul(*v);
      } else if (a == "--threads") {
        o.threads = static_cast<unsigned>(std::stoul(*v));
      } else if (a == "--objective") {
        if (*v != "accuracy" && *v != "balanced") {
          std::fputs("eval-semantic: --objective is accuracy or balanced\n", stderr);
          return std::nullopt;
        }
        o.balanced = *v == "balanced";
      } else if (a == "--classifier") {
        o.classifiers = split_list<std::string>(*v, [](const std::string& x) { return x; });
        for (const auto& c : o.classifiers)
          if (c != "centroid" && c != "logistic" && c != "logistic-sim" && c != "logistic-mix" && c != "mlp" &&
              c != "mlp-sim") {
            std::fprintf(stderr, "eval-semantic: unknown classifier '%s'\n", c.c_str());
            return std::nullopt;
          }
      } else if (a == "--l2") {
        o.l2s = split_list<double>(*v, [](const std::string& x) { return std::stod(x); });
      } else if (a == "--dense-scale") {
        o.head_dense_scale = std::stof(*v);
      } else if (a == "--sparse-scale") {
        o.head_sparse_scale = std::stof(*v);
      } else if (a == "--fold-bits") {
        o.head_fold_bits = static_cast<std::uint32_t>(std::stoul(*v));
      } else if (a == "--calibration-folds") {
        o.calibration_folds = std::stoul(*v);
      } else if (a == "--head-iterations") {
        o.head_iterations = std::stoi(*v);
      } else if (a == "--augment") {
        o.augment = std::stoul(*v);
      } else if (a == "--hidden") {
        o.hidden = split_list<std::size_t>(*v, [](const std::string& x) { return static_cast<std::size_t>(std::stoul(x)); });
      } else if (a == "--mlp-hidden-inputs") {
        if (*v != "dense" && *v != "all") throw std::invalid_argument("dense or all");
        o.mlp_hidden_sparse = *v == "all";
      } else if (a == "--mlp-skip") {
        if (*v != "none" && *v != "sparse" && *v != "all") throw std::invalid_argument("none, sparse or all");
        o.mlp_skip_dense = *v == "all";
        o.mlp_skip_sparse = *v != "none";
      } else if (a == "--mlp-hidden-l2") {
        o.mlp_hidden_l2s = split_list<double>(*v, [](const std::string& x) { return std::stod(x); });
      } else if (a == "--mlp-init") {
        o.mlp_init = std::stod(*v);
      } else if (a == "--mlp-seed") {
        o.mlp_seed = std::stoull(*v);
      } else if (a == "--dense-cache") {
        o.dense_cache = *v;
      } else if (a == "--mix") {
        o.mix = std::stof(*v);
      } else if (a == "--json") {
        o.json_path = *v;
      } else {
        std::fprintf(stderr, "eval-semantic: unknown option %s\n", a.c_str());
        usage();
        return std::nullopt;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "eval-semantic: bad value for %s: %s\n", a.c_str(), v->c_str());
      return std::nullopt;
    }
  }
  if (o.ks.empty() || std::find(o.ks.begin(), o.ks.end(), 0u) != o.ks.end()) {
    std::fputs("eval-semantic: --k needs positive values\n", stderr);
    return std::nullopt;
  }
  return o;
}

struct Query {
  std::string text;
  int intent;  // -1 = out of scope
};

struct Dataset {
  std::vector<std::string> intents;                    // in order of first appearance in train
  std::vector<std::vector<std::string>> train;         // per intent, in file order
  std::vector<Query> val, test;                        // in-scope + out-of-scope
};

std::optional<Dataset> load_dataset(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "eval-semantic: cannot open %s (pass --data)\n", path.c_str());
    return std::nullopt;
  }
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval-semantic: %s is not valid JSON: %s\n", path.c_str(), e.what());
    return std::nullopt;
  }
  Dataset d;
  std::unordered_map<std::string, int> ids;
  try {
    for (const auto& item : j.at("train")) {
      const std::string intent = item.at(1).get<std::string>();
      auto [it, fresh] = ids.emplace(intent, static_cast<int>(d.intents.size()));
      if (fresh) {
        d.intents.push_back(intent);
        d.train.emplace_back();
      }
      d.train[static_cast<std::size_t>(it->second)].push_back(item.at(0).get<std::string>());
    }
    auto add = [&](const char* key, std::vector<Query>& out, bool oos) {
      for (const auto& item : j.at(key)) {
        int intent = -1;
        if (!oos) {
          auto it = ids.find(item.at(1).get<std::string>());
          if (it == ids.end()) throw std::runtime_error(std::string("unknown intent in ") + key);
          intent = it->second;
        }
        out.push_back(Query{item.at(0).get<std::string>(), intent});
      }
    };
    add("val", d.val, false);
    add("oos_val", d.val, true);
    add("test", d.test, false);
    add("oos_test", d.test, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval-semantic: %s does not look like CLINC150 data_full.json: %s\n", path.c_str(), e.what());
    return std::nullopt;
  }
  return d;
}

// Runs fn(i) for i in [0, n) on `threads` threads, printing progress to stderr.
void parallel_for(std::size_t n, unsigned threads, const char* what, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0}, done{0};
  const auto start = Clock::now();
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      fn(i);
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  // The calling thread works too and reports progress every 2,000 items.
  for (std::size_t i; (i = next.fetch_add(1)) < n;) {
    fn(i);
    const std::size_t d = done.fetch_add(1) + 1;
    if (d % 100 == 0)
      std::fprintf(stderr, "  %s: %zu/%zu (%.1f s)\n", what, d, n,
                   std::chrono::duration<double>(Clock::now() - start).count());
  }
  for (auto& t : pool) t.join();
}

struct Row {
  std::string embedder;
  std::string classifier = "centroid";  // or a head variant (logistic, logistic-sim, logistic-mix)
  double l2 = 0;                        // head only
  std::size_t hidden = 0;               // mlp only
  double hidden_l2 = -1;                // mlp only: L2 of the hidden path
  float temperature = 1;                // head only
  double train_seconds = 0;             // head only
  int head_iterations = 0;              // head only
  std::size_t head_bytes = 0;           // head only
  double val_in_scope_accuracy = 0;     // val, no fallback (what to tune on)
  sy::embed::Aggregation aggregation = sy::embed::Aggregation::centroid;
  std::size_t k = 0;
  std::size_t utterances = 0;
  double in_scope_accuracy = 0;      // test, no fallback
  float threshold = 0;               // tuned on val + oos_val
  double val_accuracy_threshold = 0; // val + oos_val with the tuned threshold
  double accuracy_threshold = 0;     // test + oos_test with the tuned threshold
  double in_scope_accuracy_threshold = 0;
  double oos_recall = 0;
  double oracle_accuracy_threshold = 0;  // best threshold chosen on test itself: an upper bound, for context
  double mean_top_in = 0, mean_top_oos = 0;
  double p50_us = 0, p99_us = 0;     // end-to-end routing time (embed + score), wall clock
  double p50_cpu_us = 0;             // the same in thread CPU time (robust to a busy machine)
  std::size_t timed = 0;
  std::size_t index_bytes = 0, embedder_bytes = 0;
};

// Best-score and predicted intent per query.
struct Scored {
  std::vector<float> best_score;
  std::vector<int> best_intent;
};

Scored score_all(const SemanticIndex& index, const std::vector<Embedding>& queries) {
  Scored s;
  s.best_score.reserve(queries.size());
  for (const Embedding& q : queries) {
    auto m = index.score(q);
    s.best_score.push_back(m.best_score);
    s.best_intent.push_back(static_cast<int>(m.best));
  }
  return s;
}

// Accuracy with a global threshold: in-scope correct when the best route is right and clears it;
// out-of-scope correct when the best score is below it.
double accuracy_at(const Scored& s, const std::vector<Query>& q, float t) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const bool routed = s.best_score[i] >= t;
    if (q[i].intent < 0 ? !routed : (routed && s.best_intent[i] == q[i].intent)) ++ok;
  }
  return q.empty() ? 0.0 : static_cast<double>(ok) / static_cast<double>(q.size());
}

// The threshold that maximises the number of correct queries, an out-of-scope one counting `oos_weight`
// times (1: accuracy; n_in / n_oos: balanced accuracy).
float tune_threshold(const Scored& s, const std::vector<Query>& q, double oos_weight = 1.0) {
  // Every distinct score is a candidate; midpoints would change nothing on this set. Sweep in
  // ascending order keeping the running count so the search is O(n log n).
  std::vector<std::size_t> order(q.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s.best_score[a] < s.best_score[b]; });
  // At threshold = -inf: all routed. correct = in-scope with the right intent.
  double correct = 0;
  for (std::size_t i = 0; i < q.size(); ++i)
    if (q[i].intent >= 0 && s.best_intent[i] == q[i].intent) correct += 1;
  double best_correct = correct;
  float best_t = -std::numeric_limits<float>::infinity();
  for (std::size_t pos = 0; pos < order.size();) {
    // Raise the threshold just above score v: every query with score v falls back.
    const float v = s.best_score[order[pos]];
    while (pos < order.size() && s.best_score[order[pos]] == v) {
      const std::size_t i = order[pos++];
      if (q[i].intent < 0) correct += oos_weight;
      else if (s.best_intent[i] == q[i].intent) correct -= 1;
    }
    if (correct > best_correct) {
      best_correct = correct;
      best_t = pos < order.size() ? 0.5f * (v + s.best_score[order[pos]]) : std::nextafter(v, 1e9f);
    }
  }
  return best_t;
}

std::string format_bytes(std::size_t b) {
  char buf[32];
  if (b >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", static_cast<double>(b) / 1024);
  return buf;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// The dense-vector cache: u64 key (FNV-1a of the texts), u64 count, then count x 512 floats. A file
// for other texts or another model is ignored (and overwritten).
std::uint64_t texts_key(const std::vector<const std::string*>& texts) {
  std::uint64_t h = 1469598103934665603ull;
  for (const std::string* t : texts) {
    for (unsigned char c : *t) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  return h;
}

bool read_dense_cache(const std::string& path, const std::vector<const std::string*>& texts, std::vector<Embedding>& out) {
  if (path.empty()) return false;
  std::ifstream in(path, std::ios::binary);
  std::uint64_t key = 0, n = 0;
  if (!in.read(reinterpret_cast<char*>(&key), 8) || !in.read(reinterpret_cast<char*>(&n), 8)) return false;
  if (key != texts_key(texts) || n != texts.size()) return false;
  constexpr std::uint32_t dim = sy::embed::UseLiteEmbedder::kDim;
  for (std::size_t i = 0; i < n; ++i) {
    sy::embed::EmbeddingPart p;
    p.dim = dim;
    p.values.resize(dim);
    if (!in.read(reinterpret_cast<char*>(p.values.data()), dim * sizeof(float))) return false;
    out[i].parts.assign(1, std::move(p));
  }
  std::fprintf(stderr, "eval-semantic: use-lite vectors read from %s\n", path.c_str());
  return true;
}

void write_dense_cache(const std::string& path, const std::vector<const std::string*>& texts, const std::vector<Embedding>& all) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::uint64_t key = texts_key(texts), n = all.size();
  out.write(reinterpret_cast<const char*>(&key), 8);
  out.write(reinterpret_cast<const char*>(&n), 8);
  for (const Embedding& e : all) out.write(reinterpret_cast<const char*>(e.parts[0].values.data()), e.parts[0].values.size() * sizeof(float));
}

const sy::embed::HybridEmbedder& hybrid_of(const sy::embed::Embedder& e) {
  return static_cast<const sy::embed::HybridEmbedder&>(e);
}

bool wants_classifier(const Options& o, const char* c) {
  return std::find(o.classifiers.begin(), o.classifiers.end(), c) != o.classifiers.end();
}
bool wants_head(const Options& o) {
  return std::any_of(o.classifiers.begin(), o.classifiers.end(), [](const std::string& c) { return c != "centroid"; });
}
bool is_mlp(const std::string& c) { return c == "mlp" || c == "mlp-sim"; }
bool wants_logistic(const Options& o) {
  return std::any_of(o.classifiers.begin(), o.classifiers.end(),
                     [](const std::string& c) { return c != "centroid" && !is_mlp(c); });
}
// (hidden units, hidden-path L2) of every mlp row.
std::vector<std::pair<std::size_t, double>> mlp_grid(const Options& o) {
  std::vector<std::pair<std::size_t, double>> out;
  for (std::size_t h : o.hidden)
    for (double l2 : o.mlp_hidden_l2s) out.emplace_back(h, l2);
  return out;
}
bool wants_mlp(const Options& o) { return std::any_of(o.classifiers.begin(), o.classifiers.end(), is_mlp); }

// Fills the accuracy columns of `row` from the best route and confidence of every val and test query.
void evaluate(Row& row, const Scored& val_s, const Scored& test_s, const Dataset& d, const Options& opt) {
  std::size_t in_total = 0, in_ok = 0, oos_total = 0;
  double top_in = 0, top_oos = 0;
  for (std::size_t i = 0; i < d.test.size(); ++i) {
    if (d.test[i].intent >= 0) {
      ++in_total;
      if (test_s.best_intent[i] == d.test[i].intent) ++in_ok;
      top_in += test_s.best_score[i];
    } else {
      ++oos_total;
      top_oos += test_s.best_score[i];
    }
  }
  std::size_t val_in = 0, val_ok = 0;
  for (std::size_t i = 0; i < d.val.size(); ++i)
    if (d.val[i].intent >= 0) {
      ++val_in;
      if (val_s.best_intent[i] == d.val[i].intent) ++val_ok;
    }
  row.val_in_scope_accuracy = val_in ? static_cast<double>(val_ok) / static_cast<double>(val_in) : 0.0;
  row.in_scope_accuracy = in_total ? static_cast<double>(in_ok) / static_cast<double>(in_total) : 0.0;
  row.mean_top_in = in_total ? top_in / static_cast<double>(in_total) : 0.0;
  row.mean_top_oos = oos_total ? top_oos / static_cast<double>(oos_total) : 0.0;
  double oos_weight = 1.0;
  if (opt.balanced) {
    std::size_t n_oos = 0;
    for (const Query& v : d.val) n_oos += v.intent < 0;
    if (n_oos) oos_weight = static_cast<double>(d.val.size() - n_oos) / static_cast<double>(n_oos);
  }
  row.threshold = tune_threshold(val_s, d.val, oos_weight);
  row.val_accuracy_threshold = accuracy_at(val_s, d.val, row.threshold);
  row.accuracy_threshold = accuracy_at(test_s, d.test, row.threshold);
  row.oracle_accuracy_threshold = accuracy_at(test_s, d.test, tune_threshold(test_s, d.test));
  std::size_t in_ok_t = 0, oos_ok = 0;
  for (std::size_t i = 0; i < d.test.size(); ++i) {
    const bool routed = test_s.best_score[i] >= row.threshold;
    if (d.test[i].intent >= 0) {
      if (routed && test_s.best_intent[i] == d.test[i].intent) ++in_ok_t;
    } else if (!routed) {
      ++oos_ok;
    }
  }
  row.in_scope_accuracy_threshold = in_total ? static_cast<double>(in_ok_t) / static_cast<double>(in_total) : 0.0;
  row.oos_recall = oos_total ? static_cast<double>(oos_ok) / static_cast<double>(oos_total) : 0.0;
}

// End-to-end routing time on one thread: `route` embeds the raw text and decides, as the router would.
void time_routing(Row& row, const Dataset& d, const Options& opt, const std::function<std::size_t(const std::string&)>& route) {
  std::vector<double> us, cpu_us;
  const std::size_t n_time = std::min(opt.timing_queries, d.test.size());
  const std::size_t stride = n_time ? std::max<std::size_t>(1, d.test.size() / n_time) : 1;
  for (std::size_t i = 0; i < d.test.size() && us.size() < n_time; i += stride) {
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    const auto t0 = Clock::now();
    const std::size_t r = route(d.test[i].text);
    const auto t1 = Clock::now();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    if (r == static_cast<std::size_t>(-2)) std::abort();  // keep the call observable
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    cpu_us.push_back(static_cast<double>(c1.tv_sec - c0.tv_sec) * 1e6 + static_cast<double>(c1.tv_nsec - c0.tv_nsec) / 1e3);
  }
  row.timed = us.size();
  row.p50_us = percentile(us, 0.50);
  row.p99_us = percentile(us, 0.99);
  row.p50_cpu_us = percentile(cpu_us, 0.50);
}

}  // namespace

int eval_semantic_main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) return 2;
  Options opt = *parsed;
  if (std::string err = opt.hashing.validate(); !err.empty()) {
    std::fprintf(stderr, "eval-semantic: %s\n", err.c_str());
    return 2;
  }
  const unsigned threads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto t_start = Clock::now();

  auto data = load_dataset(opt.data);
  if (!data) return 1;
  const Dataset& d = *data;
  std::fprintf(stderr, "eval-semantic: %zu intents, %zu val, %zu test queries\n", d.intents.size(), d.val.size(),
               d.test.size());
  const std::size_t max_k = *std::max_element(opt.ks.begin(), opt.ks.end());

  auto wants = [&](const char* e) { return std::find(opt.embedders.begin(), opt.embedders.end(), e) != opt.embedders.end(); };

  // The dense model, when wanted and present.
  std::shared_ptr<const sy::embed::UseLiteEmbedder> use;
  if (wants("use-lite") || wants("hybrid")) {
    const std::string path = opt.model.empty() ? sy::embed::UseLiteEmbedder::default_model_path() : opt.model;
    auto loaded = sy::embed::UseLiteEmbedder::load(path, sy::embed::UseLiteOptions{opt.fp16});
    if (loaded) {
      use = *loaded;
      if (opt.fp16 && !use->fp16_weights()) std::fputs("eval-semantic: --fp16 unavailable on this CPU, using fp32\n", stderr);
    } else if (opt.embedders_given) {
      std::fprintf(stderr, "eval-semantic: %s\n", loaded.error().message.c_str());
      return 1;
    } else {
      std::fprintf(stderr, "eval-semantic: skipping use-lite and hybrid: %s\n", loaded.error().message.c_str());
    }
  }

  // Dense embeddings of every distinct text, computed once.
  std::vector<Embedding> use_train_flat;  // per intent, first max_k utterances, concatenated
  std::vector<std::size_t> use_train_begin;
  std::vector<Embedding> use_val, use_test;
  if (use) {
    std::vector<const std::string*> texts;
    for (const auto& utts : d.train) {
      use_train_begin.push_back(texts.size());
      for (std::size_t u = 0; u < std::min(max_k, utts.size()); ++u) texts.push_back(&utts[u]);
    }
    const std::size_t n_train = texts.size();
    for (const auto& q : d.val) texts.push_back(&q.text);
    for (const auto& q : d.test) texts.push_back(&q.text);
    std::vector<Embedding> all(texts.size());
    std::fprintf(stderr, "eval-semantic: use-lite: embedding %zu texts on %u threads\n", texts.size(), threads);
    const auto t0 = Clock::now();
    // Batches of 32 texts share each pass over the weights (embed_batch).
    constexpr std::size_t kBatch = 32;
    const std::size_t chunks = (texts.size() + kBatch - 1) / kBatch;
    if (!read_dense_cache(opt.dense_cache, texts, all)) {
      parallel_for(chunks, threads, "use-lite batches", [&](std::size_t c) {
        std::vector<std::string_view> views;
        for (std::size_t i = c * kBatch; i < std::min(texts.size(), (c + 1) * kBatch); ++i) views.push_back(*texts[i]);
        std::vector<Embedding> out = use->embed_batch(views);
        for (std::size_t i = 0; i < out.size(); ++i) all[c * kBatch + i] = std::move(out[i]);
      });
      write_dense_cache(opt.dense_cache, texts, all);
    }
    std::fprintf(stderr, "eval-semantic: use-lite: done in %.1f s\n",
                 std::chrono::duration<double>(Clock::now() - t0).count());
    use_train_flat.assign(std::make_move_iterator(all.begin()), std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(n_train)));
    use_val.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(n_train)),
                   std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(n_train + d.val.size())));
    use_test.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(n_train + d.val.size())),
                    std::make_move_iterator(all.end()));
  }

  std::vector<Row> rows;

  for (std::size_t k : opt.ks) {
    std::vector<sy::embed::RouteSpec> routes;
    std::vector<std::string> corpus;
    for (std::size_t r = 0; r < d.intents.size(); ++r) {
      sy::embed::RouteSpec spec;
      spec.name = d.intents[r];
      for (std::size_t u = 0; u < std::min(k, d.train[r].size()); ++u) spec.utterances.push_back(d.train[r][u]);
      corpus.insert(corpus.end(), spec.utterances.begin(), spec.utterances.end());
      routes.push_back(std::move(spec));
    }
    // Hashing: IDF fitted on this k's utterances.
    auto hashing_r = sy::embed::HashingEmbedder::create(opt.hashing, corpus);
    if (!hashing_r) {
      std::fprintf(stderr, "eval-semantic: %s\n", hashing_r.error().message.c_str());
      return 1;
    }
    std::shared_ptr<const sy::embed::HashingEmbedder> hashing = *hashing_r;
    std::vector<Embedding> hash_val, hash_test;
    std::vector<std::vector<Embedding>> hash_routes(routes.size());
    if (wants("hashing") || (use && wants("hybrid"))) {
      for (std::size_t r = 0; r < routes.size(); ++r)
        for (const auto& u : routes[r].utterances) hash_routes[r].push_back(hashing->embed(u));
      for (const auto& q : d.val) hash_val.push_back(hashing->embed(q.text));
      for (const auto& q : d.test) hash_test.push_back(hashing->embed(q.text));
    }

    // Augmented utterances for the head (from the k utterances only), embedded like the rest.
    std::vector<std::vector<std::string>> aug_texts(routes.size());
    std::vector<std::vector<Embedding>> aug_hash(routes.size()), aug_use(routes.size());
    if (opt.augment > 0 && wants_head(opt)) {
      std::vector<std::pair<std::size_t, std::size_t>> where;  // (route, variant)
      std::vector<std::string_view> flat;
      for (std::size_t r = 0; r < routes.size(); ++r)
        for (const auto& u : routes[r].utterances)
          for (auto& v : sy::embed::word_dropout_variants(u, opt.augment)) aug_texts[r].push_back(std::move(v));
      for (std::size_t r = 0; r < routes.size(); ++r)
        for (const auto& t : aug_texts[r]) {
          aug_hash[r].push_back(hashing->embed(t));
          flat.push_back(t);
          where.emplace_back(r, aug_hash[r].size() - 1);
        }
      std::fprintf(stderr, "eval-semantic: %zu augmented utterances\n", flat.size());
      if (use) {
        std::vector<Embedding> all(flat.size());
        constexpr std::size_t kBatch = 32;
        parallel_for((flat.size() + kBatch - 1) / kBatch, threads, "augmented batches", [&](std::size_t c) {
          std::vector<std::string_view> views(flat.begin() + static_cast<std::ptrdiff_t>(c * kBatch),
                                              flat.begin() + static_cast<std::ptrdiff_t>(std::min(flat.size(), (c + 1) * kBatch)));
          std::vector<Embedding> out = use->embed_batch(views);
          for (std::size_t i = 0; i < out.size(); ++i) all[c * kBatch + i] = std::move(out[i]);
        });
        for (std::size_t r = 0; r < routes.size(); ++r) aug_use[r].resize(aug_texts[r].size());
        for (std::size_t i = 0; i < flat.size(); ++i) aug_use[where[i].first][where[i].second] = std::move(all[i]);
      }
    }

    for (const std::string& name : opt.embedders) {
      if (name != "hashing" && !use) continue;
      std::fprintf(stderr, "eval-semantic: %s, k=%zu\n", name.c_str(), k);
      std::shared_ptr<const sy::embed::Embedder> embedder;
      std::vector<std::vector<Embedding>> route_vecs(routes.size());
      std::vector<Embedding> val_vecs, test_vecs;
      if (name == "hashing") {
        embedder = hashing;
        route_vecs = hash_routes;
        val_vecs = hash_val;
        test_vecs = hash_test;
      } else if (name == "use-lite") {
        embedder = use;
        for (std::size_t r = 0; r < routes.size(); ++r)
          for (std::size_t u = 0; u < routes[r].utterances.size(); ++u)
            route_vecs[r].push_back(use_train_flat[use_train_begin[r] + u]);
        val_vecs = use_val;
        test_vecs = use_test;
      } else {
        auto hybrid = sy::embed::HybridEmbedder::create(hashing, use, opt.hybrid_weight);
        if (!hybrid) {
          std::fprintf(stderr, "eval-semantic: %s\n", hybrid.error().message.c_str());
          return 1;
        }
        embedder = *hybrid;
        for (std::size_t r = 0; r < routes.size(); ++r)
          for (std::size_t u = 0; u < routes[r].utterances.size(); ++u)
            route_vecs[r].push_back((*hybrid)->combine(hash_routes[r][u], use_train_flat[use_train_begin[r] + u]));
        for (std::size_t i = 0; i < d.val.size(); ++i) val_vecs.push_back((*hybrid)->combine(hash_val[i], use_val[i]));
        for (std::size_t i = 0; i < d.test.size(); ++i) test_vecs.push_back((*hybrid)->combine(hash_test[i], use_test[i]));
      }
      for (sy::embed::Aggregation aggregation : opt.aggregations) {
        sy::embed::IndexOptions index_opt;
        index_opt.aggregation = aggregation;
        index_opt.top_k = opt.top_k;
        auto index_r = SemanticIndex::build_from_vectors(routes, embedder, route_vecs, index_opt);
        if (!index_r) {
          std::fprintf(stderr, "eval-semantic: %s\n", index_r.error().message.c_str());
          return 1;
        }
        const SemanticIndex& index = **index_r;
        Row base;
        base.embedder = name;
        base.aggregation = aggregation;
        base.k = k;
        base.utterances = corpus.size();
        base.index_bytes = index.memory_bytes();
        base.embedder_bytes = embedder->memory_bytes();

        if (wants_classifier(opt, "centroid")) {
          Row row = base;
          evaluate(row, score_all(index, val_vecs), score_all(index, test_vecs), d, opt);
          time_routing(row, d, opt, [&](const std::string& text) { return index.score(text).best; });
          rows.push_back(row);
        }
        if (!wants_head(opt) || aggregation != opt.aggregations.front()) continue;
        // The trained heads: one per l2 value (and hidden size for the mlp); tune them on val (val-in).
        std::vector<std::string> names;
        for (const auto& r : routes) names.push_back(r.name);
        std::vector<std::vector<Embedding>> train_vecs = route_vecs;
        for (std::size_t r = 0; r < routes.size(); ++r)
          for (std::size_t i = 0; i < aug_texts[r].size(); ++i) {
            if (name == "hashing") train_vecs[r].push_back(aug_hash[r][i]);
            else if (name == "use-lite") train_vecs[r].push_back(aug_use[r][i]);
            else train_vecs[r].push_back(hybrid_of(*embedder).combine(aug_hash[r][i], aug_use[r][i]));
          }
        // One row per classifier variant from `decide` (query embedding -> confidence, route).
        auto add_row = [&](Row row, const std::function<std::pair<float, int>(const Embedding&)>& decide) {
          auto score_set = [&](const std::vector<Embedding>& qs) {
            Scored s;
            for (const Embedding& q : qs) {
              auto [c, b] = decide(q);
              s.best_score.push_back(c);
              s.best_intent.push_back(b);
            }
            return s;
          };
          evaluate(row, score_set(val_vecs), score_set(test_vecs), d, opt);
          time_routing(row, d, opt, [&](const std::string& text) {
            return static_cast<std::size_t>(decide(embedder->embed(text)).second);
          });
          rows.push_back(row);
        };
        for (double l2 : opt.l2s) {
          if (wants_logistic(opt)) {
            sy::embed::HeadOptions hopt;
            hopt.l2 = l2;
            hopt.dense_scale = opt.head_dense_scale;
            hopt.sparse_scale = opt.head_sparse_scale;
            hopt.fold_bits = opt.head_fold_bits;
            hopt.calibration_folds = opt.calibration_folds;
            hopt.max_iterations = opt.head_iterations;
            std::fprintf(stderr, "eval-semantic: training the head (%s, k=%zu, l2=%g)\n", name.c_str(), k, l2);
            const auto t0 = Clock::now();
            auto head_r = sy::embed::SemanticHead::train(names, std::string(embedder->type()), embedder->layout(), train_vecs, hopt);
            if (!head_r) {
              std::fprintf(stderr, "eval-semantic: %s\n", head_r.error().message.c_str());
              return 1;
            }
            const sy::embed::SemanticHead& head = **head_r;
            const double train_s = std::chrono::duration<double>(Clock::now() - t0).count();
            std::fprintf(stderr, "eval-semantic: head trained in %.1f s (%d iterations, T=%.3f, %zu features)\n", train_s,
                         head.iterations(), static_cast<double>(head.temperature()), head.features());
            for (const std::string& cls : opt.classifiers) {
              if (cls == "centroid" || is_mlp(cls)) continue;
              Row row = base;
              row.classifier = cls;
              row.l2 = l2;
              row.temperature = head.temperature();
              row.train_seconds = train_s;
              row.head_iterations = head.iterations();
              row.head_bytes = head.memory_bytes();
              add_row(row, [&](const Embedding& e) {
                sy::embed::HeadPrediction p = head.predict(e);
                if (cls == "logistic") return std::pair<float, int>(p.confidence, static_cast<int>(p.best));
                const sy::embed::RouteMatch m = index.score(e);
                if (cls == "logistic-sim") return std::pair<float, int>(m.scores[p.best], static_cast<int>(p.best));
                // logistic-mix: probability + mix * similarity, per route.
                std::size_t best = 0;
                float best_v = -std::numeric_limits<float>::infinity();
                for (std::size_t r = 0; r < p.probabilities.size(); ++r) {
                  const float v = p.probabilities[r] + opt.mix * m.scores[r];
                  if (v > best_v) {
                    best_v = v;
                    best = r;
                  }
                }
                return std::pair<float, int>(best_v, static_cast<int>(best));
              });
            }
          }
          if (!wants_mlp(opt)) continue;
          for (const auto& [hidden, hidden_l2] : mlp_grid(opt)) {
            sy::embed::MlpOptions mopt;
            mopt.hidden = hidden;
            mopt.l2 = l2;
            mopt.hidden_l2 = hidden_l2;
            mopt.dense_scale = opt.head_dense_scale;
            mopt.sparse_scale = opt.head_sparse_scale;
            mopt.hidden_sparse = opt.mlp_hidden_sparse || name == "hashing";  // hashing has no dense part
            mopt.skip_dense = opt.mlp_skip_dense;
            mopt.skip_sparse = opt.mlp_skip_sparse;
            mopt.max_iterations = opt.head_iterations;
            mopt.seed = opt.mlp_seed;
            mopt.init_scale = opt.mlp_init;
            std::fprintf(stderr, "eval-semantic: training the mlp (%s, k=%zu, l2=%g, hidden=%zu, hidden l2=%g)\n",
                         name.c_str(), k, l2, hidden, hidden_l2 < 0 ? l2 : hidden_l2);
            const auto t0 = Clock::now();
            auto mlp_r = sy::embed::SemanticMlp::train(names, embedder->layout(), train_vecs, mopt);
            if (!mlp_r) {
              std::fprintf(stderr, "eval-semantic: %s\n", mlp_r.error().message.c_str());
              return 1;
            }
            const sy::embed::SemanticMlp& mlp = **mlp_r;
            const double train_s = std::chrono::duration<double>(Clock::now() - t0).count();
            std::fprintf(stderr, "eval-semantic: mlp trained in %.1f s (%d iterations, loss %.4f, %zu parameters)\n",
                         train_s, mlp.iterations(), mlp.loss(), mlp.parameters());
            for (const std::string& cls : opt.classifiers) {
              if (!is_mlp(cls)) continue;
              Row row = base;
              row.classifier = cls;
              row.l2 = l2;
              row.hidden = hidden;
              row.hidden_l2 = hidden_l2 < 0 ? l2 : hidden_l2;
              row.train_seconds = train_s;
              row.head_iterations = mlp.iterations();
              row.head_bytes = mlp.memory_bytes();
              add_row(row, [&](const Embedding& e) {
                std::size_t best = 0;
                const std::vector<float> p = mlp.probabilities(e, best);
                const float conf = cls == "mlp" ? p[best] : index.score(e).scores[best];
                return std::pair<float, int>(conf, static_cast<int>(best));
              });
            }
          }
        }
      }
    }
  }

  // The table.
  std::printf("CLINC150 (%s): %zu intents; test %zu in-scope + %zu out-of-scope\n", opt.data.c_str(),
              d.intents.size(),
              static_cast<std::size_t>(std::count_if(d.test.begin(), d.test.end(), [](const Query& q) { return q.intent >= 0; })),
              static_cast<std::size_t>(std::count_if(d.test.begin(), d.test.end(), [](const Query& q) { return q.intent < 0; })));
  std::printf("%-9s %-18s %4s %7s %9s %9s %10s %11s %9s %9s %8s %11s %10s %10s %10s %10s\n", "embedder", "classifier", "k", "l2",
              "val-in", "in-scope", "threshold", "acc+fallbk", "in@thr", "oos-rec", "oracle", "top in/oos", "p50", "p99",
              "p50 cpu", "index");
  for (const Row& r : rows) {
    char top[32];
    std::snprintf(top, sizeof top, "%.2f/%.2f", r.mean_top_in, r.mean_top_oos);
    auto fmt_t = [](double v) {
      char b[32];
      if (v >= 1000) std::snprintf(b, sizeof b, "%.2f ms", v / 1000);
      else std::snprintf(b, sizeof b, "%.0f us", v);
      return std::string(b);
    };
    std::string cls = r.classifier == "centroid" ? std::string(sy::embed::to_string(r.aggregation)) : r.classifier;
    if (r.hidden) {
      char hl2[16];
      std::snprintf(hl2, sizeof hl2, "@%.2g", r.hidden_l2);
      cls += "/" + std::to_string(r.hidden) + hl2;
    }
    char l2[16] = "-";
    if (r.classifier != "centroid") std::snprintf(l2, sizeof l2, "%.0e", r.l2);
    std::printf("%-9s %-18s %4zu %7s %8.1f%% %8.1f%% %10.4f %10.1f%% %8.1f%% %8.1f%% %7.1f%% %11s %10s %10s %10s %10s\n",
                r.embedder.c_str(), cls.c_str(), r.k, l2, 100 * r.val_in_scope_accuracy, 100 * r.in_scope_accuracy, r.threshold, 100 * r.accuracy_threshold,
                100 * r.in_scope_accuracy_threshold, 100 * r.oos_recall, 100 * r.oracle_accuracy_threshold, top,
                fmt_t(r.p50_us).c_str(), fmt_t(r.p99_us).c_str(), fmt_t(r.p50_cpu_us).c_str(),
                format_bytes(r.index_bytes + r.head_bytes).c_str());
  }
  std::printf("in-scope: test accuracy, no fallback. threshold: tuned on val+oos_val for %s. acc+fallbk: test+oos_test\n"
              "with that threshold (oos correct when sent to fallback). in@thr / oos-rec: its in-scope and oos parts.\n"
              "oracle: acc+fallbk with the accuracy-maximising threshold on test itself (an upper bound, not a result).\n"
              "p50/p99: wall clock, one thread, embed + score of the raw text, over %zu test queries; p50 cpu: the same in\n"
              "thread CPU time (robust to a busy machine). index: the utterance index (+ the head), without the embedder.\n"
              "classifier: the aggregation for centroid matching, else the trained head's variant; val-in: in-scope\n"
              "accuracy on val without fallback (tune --l2 on it, never on test).\n",
              opt.balanced ? "balanced accuracy" : "accuracy", rows.empty() ? std::size_t{0} : rows.front().timed);
  std::fprintf(stderr, "eval-semantic: total %.1f s\n", std::chrono::duration<double>(Clock::now() - t_start).count());

  if (!opt.json_path.empty()) {
    nlohmann::json j;
    j["data"] = opt.data;
    j["top_k"] = opt.top_k;
  j["use_lite_fp16"] = use && use->fp16_weights();
    j["hybrid_weight"] = opt.hybrid_weight;
    j["threshold_objective"] = opt.balanced ? "balanced" : "accuracy";
    j["mlp"] = {{"hidden_inputs", opt.mlp_hidden_sparse ? "all" : "dense"},
                {"skip", opt.mlp_skip_dense ? "all" : opt.mlp_skip_sparse ? "sparse" : "none"},
                {"seed", opt.mlp_seed}, {"init", opt.mlp_init}, {"iterations", opt.head_iterations}};
    j["hashing"] = {{"bucket_bits", opt.hashing.bucket_bits}, {"word_weight", opt.hashing.word_weight},
                    {"char_min", opt.hashing.char_min}, {"char_max", opt.hashing.char_max}};
    j["results"] = nlohmann::json::array();
    for (const Row& r : rows) {
      j["results"].push_back({{"embedder", r.embedder},
                              {"classifier", r.classifier},
                              {"l2", r.l2},
                              {"hidden", r.hidden},
                              {"hidden_l2", r.hidden_l2},
                              {"temperature", r.temperature},
                              {"train_seconds", r.train_seconds},
                              {"head_iterations", r.head_iterations},
                              {"head_bytes", r.head_bytes},
                              {"val_in_scope_accuracy", r.val_in_scope_accuracy},
                              {"aggregation", sy::embed::to_string(r.aggregation)},
                              {"k", r.k},
                              {"utterances", r.utterances},
                              {"in_scope_accuracy", r.in_scope_accuracy},
                              {"threshold", r.threshold},
                              {"val_accuracy_with_threshold", r.val_accuracy_threshold},
                              {"accuracy_with_threshold", r.accuracy_threshold},
                              {"in_scope_accuracy_with_threshold", r.in_scope_accuracy_threshold},
                              {"oos_recall", r.oos_recall},
                              {"oracle_accuracy_with_threshold", r.oracle_accuracy_threshold},
                              {"route_p50_cpu_us", r.p50_cpu_us},
                              {"mean_top_score_in_scope", r.mean_top_in},
                              {"mean_top_score_oos", r.mean_top_oos},
                              {"route_p50_us", r.p50_us},
                              {"route_p99_us", r.p99_us},
                              {"timed_queries", r.timed},
                              {"index_bytes", r.index_bytes},
                              {"embedder_bytes", r.embedder_bytes}});
    }
    std::ofstream out(opt.json_path);
    if (!out) {
      std::fprintf(stderr, "eval-semantic: cannot write %s\n", opt.json_path.c_str());
      return 1;
    }
    out << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace sy::tools
