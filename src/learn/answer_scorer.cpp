#include "switchyard/learn/answer_scorer.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

#include "switchyard/core/json_tree.hpp"

namespace sy::learn {
namespace {

static_assert(std::endian::native == std::endian::little, "scorer files are little-endian");
constexpr char kMagic[4] = {'S', 'Y', 'A', 'S'};
constexpr std::uint32_t kVersion = 2;  // 2: 59 verifier features, optional boosted trees

inline double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

/// Moves answer buckets into their own namespace: an odd multiplier plus an offset is a bijection on
/// [0, 2^bits), so the answer's n-grams keep their distinctness but land on other buckets than the same
/// n-grams of the prompt.
inline std::uint32_t answer_bucket(std::uint32_t b, std::uint32_t mask) { return (b * 0x9E3779B1u + 0x7F4A7C15u) & mask; }

Error bad_scorer(std::string msg) { return Error::make(ErrorKind::internal, "answer scorer file: " + std::move(msg)); }

FeatureConfig without_dense(FeatureConfig c) {
  c.dense = false;
  return c;
}

struct ServeScratch {
  AnswerFeatureExtractor::Scratch fx;
  AnswerRawFeatures raw;
};
ServeScratch& serve_scratch() {
  thread_local ServeScratch s;
  return s;
}

}  // namespace

AnswerFeatureExtractor::AnswerFeatureExtractor(AnswerFeatureConfig config)
    : config_(config), prompt_fx_(without_dense(config.text)), answer_fx_(config.text) {
  config_.text = answer_fx_.config();  // clamped values
}

void AnswerFeatureExtractor::extract(std::string_view prompt, std::string_view answer, AnswerRawFeatures& out,
                                     Scratch& s) const {
  const std::uint32_t mask = answer_fx_.hash_buckets() - 1;
  s.merged.clear();
  if (config_.prompt_ngrams) {
    prompt_fx_.extract(prompt, s.prompt, s.buckets);
    for (std::size_t i = 0; i < s.prompt.bucket.size(); ++i) s.merged.emplace_back(s.prompt.bucket[i], s.prompt.count[i]);
  }
  // The answer is always extracted for its dense features; its n-grams only when enabled.
  answer_fx_.extract(answer, s.answer, s.buckets);
  if (config_.answer_ngrams)
    for (std::size_t i = 0; i < s.answer.bucket.size(); ++i)
      s.merged.emplace_back(answer_bucket(s.answer.bucket[i], mask), s.answer.count[i]);
  std::sort(s.merged.begin(), s.merged.end());
  out.text.bucket.clear();
  out.text.count.clear();
  for (const auto& [b, c] : s.merged) {
    if (!out.text.bucket.empty() && out.text.bucket.back() == b) {
      out.text.count.back() += c;
    } else {
      out.text.bucket.push_back(b);
      out.text.count.push_back(c);
    }
  }
  out.text.dense = s.answer.dense;
  if (config_.verifier) answer_features(prompt, answer, out.verifier);
  else out.verifier.fill(0.0f);
}

// --- AnswerScorer ------------------------------------------------------------------------------------------

AnswerScorer::AnswerScorer(AnswerScorerParts parts) : parts_(std::move(parts)), extractor_(parts_.features) {}

Result<std::shared_ptr<const AnswerScorer>> AnswerScorer::from_parts(AnswerScorerParts parts) {
  if (!parts.text_model) return bad_scorer("no n-gram model");
  if (parts.text_model->heads().size() != 1) return bad_scorer("the n-gram model must have exactly one head");
  const FeatureConfig& a = parts.text_model->parts().transform.config();
  const FeatureConfig& b = parts.features.text;
  if (a.hash_bits != b.hash_bits || a.word_ngram_max != b.word_ngram_max || a.char_ngram_min != b.char_ngram_min ||
      a.char_ngram_max != b.char_ngram_max || a.dense != b.dense || a.number_shapes != b.number_shapes ||
      a.max_bytes != b.max_bytes)
    return bad_scorer("feature config does not match the n-gram model");
  return std::shared_ptr<const AnswerScorer>(std::make_shared<AnswerScorer>(std::move(parts)));
}

double AnswerScorer::logit(const AnswerRawFeatures& raw) const {
  double z = 0;
  parts_.text_model->logits(raw.text, std::span<double>(&z, 1));
  if (parts_.features.verifier) {
    for (std::size_t k = 0; k < kAnswerFeatures; ++k) {
      if (parts_.verifier_inv_std[k] == 0.0f) continue;
      const float v = std::clamp((raw.verifier[k] - parts_.verifier_mean[k]) * parts_.verifier_inv_std[k], -kDenseClip, kDenseClip);
      z += static_cast<double>(v) * parts_.verifier_weight[k];
    }
  }
  z = parts_.calib_scale * z + parts_.calib_bias;
  if (!parts_.boost.empty()) {
    std::array<float, kAnswerFeatures + 1> x;
    std::copy(raw.verifier.begin(), raw.verifier.end(), x.begin());
    x[kAnswerFeatures] = static_cast<float>(z);
    z += parts_.boost.predict(x);
  }
  return z;
}

double AnswerScorer::logit(std::string_view prompt, std::string_view answer) const {
  ServeScratch& s = serve_scratch();
  extractor_.extract(prompt, answer, s.raw, s.fx);
  return logit(s.raw);
}

double AnswerScorer::score(std::string_view prompt, std::string_view answer) const {
  return sigmoid(logit(prompt, answer));
}

// File layout (little-endian):
//   "SYAS" u32 version u32 header_bytes, header JSON (model, feature blocks, verifier names/scaling/weights,
//   threshold, notes), u32 model_bytes, then the n-gram block as a LearnedModel file ("SYLM", see
//   learned_model.hpp).
std::string AnswerScorer::to_bytes() const {
  using nlohmann::json;
  json h;
  h["model"] = parts_.model;
  h["prompt_ngrams"] = parts_.features.prompt_ngrams;
  h["answer_ngrams"] = parts_.features.answer_ngrams;
  h["verifier"] = parts_.features.verifier;
  const auto& names = answer_feature_names();
  h["verifier_names"] = std::vector<std::string>(names.begin(), names.end());
  h["verifier_mean"] = parts_.verifier_mean;
  h["verifier_inv_std"] = parts_.verifier_inv_std;
  h["verifier_weight"] = parts_.verifier_weight;
  h["threshold"] = parts_.threshold;
  h["base_rate"] = parts_.base_rate;
  h["l2"] = parts_.l2;
  h["gap_reference"] = parts_.gap_reference;
  h["calib_scale"] = parts_.calib_scale;
  h["calib_bias"] = parts_.calib_bias;
  if (!parts_.boost.empty()) h["boost"] = json::parse(parts_.boost.to_json());
  h["notes"] = parts_.notes;
  const std::string header = h.dump();
  const std::string inner = parts_.text_model->to_bytes();
  std::string out(kMagic, 4);
  auto put32 = [&](std::uint32_t v) {
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
  };
  put32(kVersion);
  put32(static_cast<std::uint32_t>(header.size()));
  out += header;
  put32(static_cast<std::uint32_t>(inner.size()));
  out += inner;
  return out;
}

Result<bool> AnswerScorer::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return bad_scorer("cannot write " + tmp);
    const std::string bytes = to_bytes();
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) return bad_scorer("write failed: " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return bad_scorer("cannot rename " + tmp + " to " + path);
  return true;
}

Result<std::shared_ptr<const AnswerScorer>> AnswerScorer::from_bytes(std::string_view bytes) {
  using nlohmann::json;
  std::size_t p = 0;
  auto get32 = [&](std::uint32_t& v) {
    if (bytes.size() - p < 4) return false;
    std::memcpy(&v, bytes.data() + p, 4);
    p += 4;
    return true;
  };
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view(kMagic, 4))
    return bad_scorer("not a switchyard answer scorer (bad magic)");
  p = 4;
  std::uint32_t version = 0, header_len = 0, inner_len = 0;
  if (!get32(version) || version != kVersion)
    return bad_scorer("unsupported version " + std::to_string(version) + " (this build reads version " +
                      std::to_string(kVersion) + "; retrain the scorer)");
  if (!get32(header_len) || bytes.size() - p < header_len) return bad_scorer("truncated header");
  const std::string_view header_text = bytes.substr(p, header_len);
  p += header_len;
  if (!get32(inner_len) || bytes.size() - p != inner_len) return bad_scorer("truncated or trailing model bytes");
  AnswerScorerParts parts;
  try {
    auto guarded = sy::json::parse_tree<json>(header_text);  // the JSON guard first: bounded depth and size
    if (!guarded) return bad_scorer("header: " + guarded.error().message);
    json h = std::move(*guarded);
    parts.model = h.at("model").get<std::string>();
    parts.features.prompt_ngrams = h.at("prompt_ngrams").get<bool>();
    parts.features.answer_ngrams = h.at("answer_ngrams").get<bool>();
    parts.features.verifier = h.at("verifier").get<bool>();
    const auto names = h.at("verifier_names").get<std::vector<std::string>>();
    const auto& expected = answer_feature_names();
    if (names.size() != kAnswerFeatures || !std::equal(names.begin(), names.end(), expected.begin()))
      return bad_scorer("written with a different set of verifier features; retrain it");
    auto arr = [&](const char* key, std::array<float, kAnswerFeatures>& out) {
      const auto v = h.at(key).get<std::vector<float>>();
      if (v.size() != kAnswerFeatures) throw std::runtime_error(std::string(key) + " has the wrong length");
      std::copy(v.begin(), v.end(), out.begin());
    };
    arr("verifier_mean", parts.verifier_mean);
    arr("verifier_inv_std", parts.verifier_inv_std);
    arr("verifier_weight", parts.verifier_weight);
    parts.threshold = h.at("threshold").get<double>();
    parts.base_rate = h.value("base_rate", 0.5);
    parts.l2 = h.value("l2", 0.0);
    parts.gap_reference = h.value("gap_reference", std::string());
    parts.calib_scale = h.value("calib_scale", 1.0);
    parts.calib_bias = h.value("calib_bias", 0.0);
    if (h.contains("boost")) {
      auto b = BoostedTrees::from_json(h.at("boost").dump());
      if (!b) return bad_scorer(b.error().message);
      if (b->features() != static_cast<int>(kAnswerFeatures) + 1) return bad_scorer("boosted trees over another feature count");
      parts.boost = std::move(*b);
    }
    parts.notes = h.value("notes", std::string());
  } catch (const std::exception& e) {
    return bad_scorer(std::string("bad header: ") + e.what());
  }
  auto inner = LearnedModel::from_bytes(bytes.substr(p, inner_len));
  if (!inner) return bad_scorer("n-gram block: " + inner.error().message);
  parts.text_model = *inner;
  parts.features.text = parts.text_model->parts().transform.config();
  return from_parts(std::move(parts));
}

Result<std::shared_ptr<const AnswerScorer>> AnswerScorer::load(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return std::move(bytes).error();
  auto s = from_bytes(*bytes);
  if (!s) {
    Error e = std::move(s).error();
    e.message = path + ": " + e.message;
    return e;
  }
  return s;
}

// --- training ----------------------------------------------------------------------------------------------

std::vector<std::size_t> answer_rows(const Dataset& data, int model) {
  std::vector<std::size_t> rows;
  if (model < 0 || static_cast<std::size_t>(model) >= data.models.size()) return rows;
  const auto m = static_cast<std::size_t>(model);
  for (std::size_t i = 0; i < data.examples.size(); ++i) {
    const Example& e = data.examples[i];
    if (m < e.quality.size() && !std::isnan(e.quality[m]) && m < e.response.size() && !e.response[m].empty())
      rows.push_back(i);
  }
  return rows;
}

std::vector<AnswerRawFeatures> extract_answer_features(const Dataset& data, int model, const AnswerFeatureConfig& config,
                                                       const Progress& progress) {
  AnswerFeatureExtractor fx(config);
  AnswerFeatureExtractor::Scratch scratch;
  std::vector<AnswerRawFeatures> out(data.examples.size());
  const auto m = static_cast<std::size_t>(std::max(model, 0));
  const std::size_t n = out.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Example& e = data.examples[i];
    const std::string_view answer = m < e.response.size() ? std::string_view(e.response[m]) : std::string_view();
    fx.extract(e.prompt, answer, out[i], scratch);
    if (progress && (i % 256 == 0 || i + 1 == n)) progress("answer features", static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return out;
}

namespace {

/// The linear scorer (n-gram block + standardised verifier block), fitted on `rows` with L2 `l2`.
Result<std::shared_ptr<const AnswerScorer>> fit_linear_scorer(const Dataset& data, std::size_t m,
                                                              const std::vector<std::size_t>& rows,
                                                              std::span<const AnswerRawFeatures> raw_in,
                                                              const AnswerScorerOptions& opts, double l2,
                                                              const Progress& progress);

/// The training target of one row: the scored model's quality, or the gap target against `reference`.
float target_of(const Example& e, std::size_t m, int reference) {
  const float q = std::clamp(e.quality[m], 0.0f, 1.0f);
  if (reference < 0 || static_cast<std::size_t>(reference) >= e.quality.size()) return q;
  const float r = e.quality[static_cast<std::size_t>(reference)];
  if (std::isnan(r)) return q;
  return 0.5f * (1.0f + q - std::clamp(r, 0.0f, 1.0f));
}

double mean_log_loss(std::span<const double> z, std::span<const float> y) {
  double s = 0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double softplus = z[i] > 0 ? z[i] + std::log1p(std::exp(-z[i])) : std::log1p(std::exp(z[i]));
    s += softplus - static_cast<double>(y[i]) * z[i];
  }
  return z.empty() ? 0.0 : s / static_cast<double>(z.size());
}

/// Platt scaling: (a, b) minimising the log-loss of sigmoid(a z + b) against y (Newton, tiny ridge).
std::pair<double, double> platt(std::span<const double> z, std::span<const float> y) {
  double a = 1, b = 0;
  for (int it = 0; it < 50; ++it) {
    double ga = 0, gb = 0, haa = 1e-6, hab = 0, hbb = 1e-6;
    for (std::size_t i = 0; i < z.size(); ++i) {
      const double t = a * z[i] + b;
      const double p = t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
      const double g = p - y[i], h = std::max(p * (1 - p), 1e-9);
      ga += g * z[i];
      gb += g;
      haa += h * z[i] * z[i];
      hab += h * z[i];
      hbb += h;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (std::abs(da) + std::abs(db) < 1e-9) break;
  }
  return {a, b};
}

}  // namespace

Result<std::shared_ptr<const AnswerScorer>> train_answer_scorer(const Dataset& data, int model,
                                                                std::span<const std::size_t> rows_in,
                                                                std::span<const AnswerRawFeatures> raw_in,
                                                                const AnswerScorerOptions& opts, const Progress& progress) {
  if (model < 0 || static_cast<std::size_t>(model) >= data.models.size())
    return Error::bad_request("answer scorer: no such model index " + std::to_string(model));
  const auto m = static_cast<std::size_t>(model);
  std::vector<std::size_t> rows;
  const std::vector<std::size_t> usable = answer_rows(data, model);
  if (rows_in.empty()) {
    rows = usable;
  } else {
    for (std::size_t r : rows_in)
      if (std::binary_search(usable.begin(), usable.end(), r)) rows.push_back(r);
  }
  if (rows.size() < 2)
    return Error::bad_request("answer scorer: need at least two rows with a response and a score for model '" +
                              data.models[m] + "'");
  std::vector<AnswerRawFeatures> own;
  if (raw_in.empty()) {
    own = extract_answer_features(data, model, opts.features, progress);
    raw_in = own;
  }
  if (raw_in.size() != data.examples.size()) return Error::bad_request("answer scorer: raw features do not match the dataset");

  const double default_l2 = opts.logistic.l2 > 0 ? opts.logistic.l2 : 1.0 / static_cast<double>(rows.size());
  std::vector<double> grid = opts.l2_grid;
  if (grid.empty()) grid = {default_l2};
  const bool inner = grid.size() > 1 || opts.boosted;
  if (!inner) return fit_linear_scorer(data, m, rows, raw_in, opts, grid[0], progress);

  // Inner CV on the training rows (dealt by position modulo k): out-of-fold logits of the linear block
  // for every candidate L2. Nothing outside `rows` is seen.
  const int k = std::max(2, opts.inner_folds);
  std::vector<float> y(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) y[i] = target_of(data.examples[rows[i]], m, opts.gap_reference);
  std::vector<std::vector<double>> oof(grid.size(), std::vector<double>(rows.size(), 0.0));
  std::size_t done = 0;
  for (int f = 0; f < k; ++f) {
    std::vector<std::size_t> train, held;
    for (std::size_t i = 0; i < rows.size(); ++i) (static_cast<int>(i % static_cast<std::size_t>(k)) == f ? held : train).push_back(i);
    std::vector<std::size_t> train_rows;
    for (std::size_t i : train) train_rows.push_back(rows[i]);
    for (std::size_t g = 0; g < grid.size(); ++g) {
      auto s = fit_linear_scorer(data, m, train_rows, raw_in, opts, grid[g], {});
      if (!s) return std::move(s).error();
      for (std::size_t i : held) oof[g][i] = (*s)->logit(raw_in[rows[i]]);
      if (progress) progress("answer scorer inner cv", static_cast<double>(++done) / static_cast<double>(static_cast<std::size_t>(k) * grid.size()));
    }
  }
  std::size_t best = 0;
  double best_loss = std::numeric_limits<double>::infinity();
  for (std::size_t g = 0; g < grid.size(); ++g)
    if (const double l = mean_log_loss(oof[g], y); l < best_loss) {
      best_loss = l;
      best = g;
    }
  auto linear = fit_linear_scorer(data, m, rows, raw_in, opts, grid[best], progress);
  if (!linear || !opts.boosted) return linear;
  // Platt recalibration of the inner-CV logits (the linear block is over-confident on unseen rows), then
  // trees on top, with the recalibrated logit as one more input.
  AnswerScorerParts parts = (*linear)->parts();
  const auto [a, b] = platt(oof[best], y);
  parts.calib_scale = a;
  parts.calib_bias = b;
  std::vector<double> offset(rows.size());
  DenseRows x{kAnswerFeatures + 1, {}};
  x.values.reserve(rows.size() * (kAnswerFeatures + 1));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    offset[i] = a * oof[best][i] + b;
    const auto& v = raw_in[rows[i]].verifier;
    x.values.insert(x.values.end(), v.begin(), v.end());
    x.values.push_back(static_cast<float>(offset[i]));
  }
  parts.boost = fit_boosted_trees_cv(x, y, offset, opts.boost, k);
  return AnswerScorer::from_parts(std::move(parts));
}

namespace {

Result<std::shared_ptr<const AnswerScorer>> fit_linear_scorer(const Dataset& data, std::size_t m,
                                                              const std::vector<std::size_t>& rows,
                                                              std::span<const AnswerRawFeatures> raw_in,
                                                              const AnswerScorerOptions& opts, double l2,
                                                              const Progress& progress) {
  const AnswerFeatureExtractor fx(opts.features);
  const AnswerFeatureConfig& fc = fx.config();
  std::vector<const RawFeatures*> text_rows;
  text_rows.reserve(rows.size());
  for (std::size_t r : rows) text_rows.push_back(&raw_in[r].text);
  FeatureTransform transform = FeatureTransform::fit(fc.text, text_rows);
  const std::size_t dim = transform.dimension();

  // Verifier block: standardised on the training rows.
  std::array<float, kAnswerFeatures> mean{}, inv{};
  if (fc.verifier) {
    std::array<double, kAnswerFeatures> sum{}, sq{};
    for (std::size_t r : rows)
      for (std::size_t k = 0; k < kAnswerFeatures; ++k) {
        sum[k] += raw_in[r].verifier[k];
        sq[k] += static_cast<double>(raw_in[r].verifier[k]) * raw_in[r].verifier[k];
      }
    const double n = static_cast<double>(rows.size());
    for (std::size_t k = 0; k < kAnswerFeatures; ++k) {
      const double mu = sum[k] / n;
      const double var = std::max(0.0, sq[k] / n - mu * mu);
      mean[k] = static_cast<float>(mu);
      inv[k] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 0.0f;
    }
  }
  const auto scale = static_cast<float>(opts.verifier_scale);
  Csr x;
  std::vector<float> y;
  double positives = 0;
  {
    SparseVector v;
    for (std::size_t r : rows) {
      transform.apply(raw_in[r].text, v);
      if (fc.verifier)
        for (std::size_t k = 0; k < kAnswerFeatures; ++k) {
          if (inv[k] == 0.0f) continue;
          v.index.push_back(static_cast<std::uint32_t>(dim + k));
          v.value.push_back(std::clamp((raw_in[r].verifier[k] - mean[k]) * inv[k], -kDenseClip, kDenseClip) * scale);
        }
      x.add_row(v);
      const float q = target_of(data.examples[r], m, opts.gap_reference);
      y.push_back(q);
      positives += q;
    }
  }
  LogisticOptions lopts = opts.logistic;
  lopts.l2 = l2;
  if (progress) progress("fit answer scorer", 0.0);
  LogisticFit fit = fit_logistic(x, dim + kAnswerFeatures, y, {}, lopts);
  if (progress) progress("fit answer scorer", 1.0);

  ModelParts mp;
  mp.transform = std::move(transform);
  mp.models = {data.models[m]};
  mp.heads = {HeadInfo{"quality:" + data.models[m], 0}};
  mp.weights.assign(fit.weights.begin(), fit.weights.begin() + static_cast<std::ptrdiff_t>(dim));
  mp.bias = {fit.bias};
  mp.quality_mean = {positives / static_cast<double>(rows.size())};
  mp.notes = "n-gram block of an answer scorer";
  auto text_model = LearnedModel::from_parts(std::move(mp));
  if (!text_model) return std::move(text_model).error();

  AnswerScorerParts parts;
  parts.features = fc;
  parts.text_model = *text_model;
  parts.model = data.models[m];
  parts.verifier_mean = mean;
  parts.verifier_inv_std = inv;
  for (std::size_t k = 0; k < kAnswerFeatures; ++k) parts.verifier_weight[k] = fit.weights[dim + k] * scale;
  parts.threshold = opts.threshold;
  parts.base_rate = positives / static_cast<double>(rows.size());
  parts.l2 = l2;
  if (opts.gap_reference >= 0 && static_cast<std::size_t>(opts.gap_reference) < data.models.size())
    parts.gap_reference = data.models[static_cast<std::size_t>(opts.gap_reference)];
  return AnswerScorer::from_parts(std::move(parts));
}

}  // namespace

}  // namespace sy::learn
