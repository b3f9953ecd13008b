#include "switchyard/learn/learned_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "switchyard/core/json_tree.hpp"
#include "switchyard/learn/dataset.hpp"

namespace sy::learn {
namespace {

static_assert(std::endian::native == std::endian::little, "model files are little-endian");
constexpr char kMagic[4] = {'S', 'Y', 'L', 'M'};
constexpr std::uint32_t kVersion = 1;
/// Shift contribution of a conversation feature that was constant in training and differs now
/// (kDenseClip squared: as far as a clipped feature can be).
constexpr double kConversationUnseenZ2 = static_cast<double>(kDenseClip) * kDenseClip;

inline double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <class T>
  bool get(T& v) {
    if (s_.size() - p_ < sizeof(T)) return false;
    std::memcpy(&v, s_.data() + p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (s_.size() - p_ < n) return false;
    out = s_.substr(p_, n);
    p_ += n;
    return true;
  }
  bool done() const { return p_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t p_ = 0;
};

Error bad_model(std::string msg) { return Error::make(ErrorKind::internal, "model file: " + std::move(msg)); }

/// Per-thread buffers so that scoring allocates nothing after the first calls on a thread.
struct Scratch {
  RawFeatures raw;
  std::vector<std::uint32_t> buckets;
  std::vector<double> logits;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

LearnedModel::LearnedModel(ModelParts parts) : parts_(std::move(parts)), extractor_(parts_.transform.config()) {
  quality_head_.assign(parts_.models.size(), -1);
  for (std::size_t h = 0; h < parts_.heads.size(); ++h) {
    const HeadInfo& info = parts_.heads[h];
    if (info.name == "route") route_head_ = static_cast<int>(h);
    else if (info.model >= 0 && static_cast<std::size_t>(info.model) < quality_head_.size())
      quality_head_[static_cast<std::size_t>(info.model)] = static_cast<int>(h);
  }
  if (parts_.quality_mean.size() != parts_.models.size()) parts_.quality_mean.assign(parts_.models.size(), 0.5);
  const std::size_t nh = parts_.heads.size();
  const std::size_t dim = parts_.transform.dimension();
  const std::vector<float>& idf = parts_.transform.idf();
  stride_ = 1 + nh;
  packed_.assign(dim * stride_, 0.0f);
  for (std::size_t j = 0; j < dim; ++j) {
    float* row = packed_.data() + j * stride_;
    row[0] = j < idf.size() ? idf[j] : 1.0f;
    for (std::size_t h = 0; h < nh; ++h) row[1 + h] = parts_.weights[j * nh + h];
  }
}

Result<std::shared_ptr<const LearnedModel>> LearnedModel::from_parts(ModelParts parts) {
  const std::size_t dim = parts.transform.dimension();
  const std::size_t nh = parts.heads.size();
  if (parts.transform.idf().size() != (std::size_t{1} << parts.transform.config().hash_bits))
    return bad_model("IDF table does not match hash_bits");
  if (parts.weights.size() != dim * nh || parts.bias.size() != nh) return bad_model("weights do not match heads");
  for (const HeadInfo& h : parts.heads)
    if (h.model >= static_cast<int>(parts.models.size())) return bad_model("head '" + h.name + "' names no model");
  if (!parts.prices.empty() && parts.prices.size() != parts.models.size())
    return bad_model("prices must list every model");
  if (parts.strong >= static_cast<int>(parts.models.size()) || parts.weak >= static_cast<int>(parts.models.size()))
    return bad_model("strong/weak model index out of range");
  return std::shared_ptr<const LearnedModel>(std::make_shared<LearnedModel>(std::move(parts)));
}

void LearnedModel::logits(std::string_view prompt, std::span<double> out) const {
  Scratch& s = scratch();
  extractor_.extract(prompt, s.raw, s.buckets);
  logits(s.raw, out);
}

void LearnedModel::logits(const RawFeatures& raw, std::span<double> out) const {
  // Fused FeatureTransform::apply + dot products: the L2 normalisation of the hashed block is a common
  // factor, so it is applied once at the end instead of building the normalised vector.
  const std::size_t nh = parts_.heads.size();
  const std::size_t n = std::min(nh, out.size());
  double acc[16];
  std::vector<double> big;
  double* a = acc;
  if (n > 16) {
    big.assign(n, 0.0);
    a = big.data();
  } else {
    std::fill(acc, acc + n, 0.0);
  }
  double norm = 0;
  const float* packed = packed_.data();
  for (std::size_t k = 0; k < raw.bucket.size(); ++k) {
    const float* row = packed + static_cast<std::size_t>(raw.bucket[k]) * stride_;
    const float c = raw.count[k];
    const double v = (c == 1.0f ? 1.0f : 1.0f + std::log(c)) * row[0];
    norm += v * v;
    for (std::size_t h = 0; h < n; ++h) a[h] += v * row[1 + h];
  }
  const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (std::size_t h = 0; h < n; ++h) out[h] = parts_.bias[h] + a[h] * inv;
  const FeatureConfig& fc = parts_.transform.config();
  if (fc.dense) {
    const auto& mean = parts_.transform.dense_mean();
    const auto& inv_std = parts_.transform.dense_inv_std();
    const std::size_t base = std::size_t{1} << fc.hash_bits;
    for (std::size_t j = 0; j < kDenseFeatures; ++j) {
      if (inv_std[j] == 0.0f) continue;
      const double z = std::clamp((raw.dense[j] - mean[j]) * inv_std[j], -kDenseClip, kDenseClip);
      const float* row = packed + (base + j) * stride_;
      for (std::size_t h = 0; h < n; ++h) out[h] += z * row[1 + h];
    }
  }
}

double LearnedModel::model_score(const RawFeatures& raw) const {
  Scratch& s = scratch();
  s.logits.resize(parts_.heads.size());
  logits(raw, s.logits);
  if (route_head_ >= 0) return sigmoid(s.logits[static_cast<std::size_t>(route_head_)]);
  if (parts_.strong < 0 || parts_.weak < 0) return 0.5;
  auto q = [&](int m) {
    int h = quality_head_[static_cast<std::size_t>(m)];
    return h >= 0 ? sigmoid(s.logits[static_cast<std::size_t>(h)]) : parts_.quality_mean[static_cast<std::size_t>(m)];
  };
  return 0.5 * (1.0 + q(parts_.strong) - q(parts_.weak));
}

double LearnedModel::shift(const RawFeatures& raw) const {
  if (!parts_.transform.config().dense) return 0;
  const auto& mean = parts_.transform.dense_mean();
  const auto& inv_std = parts_.transform.dense_inv_std();
  double d = 0;
  int n = 0;
  const bool conversation = parts_.transform.config().conversation;
  for (std::size_t j = 0; j < kDenseFeatures; ++j) {
    if (inv_std[j] == 0.0f) {
      // A conversation feature that never varied in training (benchmarks: one message, no system
      // prompt) still counts when a request differs from every training prompt: as far as the clip.
      const bool conv = j >= kConversationOffset && j < kConversationOffset + kConversationFeatures;
      if (conversation && conv && std::abs(raw.dense[j] - mean[j]) > 1e-6f) d += kConversationUnseenZ2;
      if (conversation && conv) ++n;
      continue;
    }
    const double z = (raw.dense[j] - mean[j]) * inv_std[j];
    d += std::min(z * z, 100.0);
    ++n;
  }
  return n > 0 ? d / n : 0.0;
}

namespace {
/// Piecewise-linear interpolation of a percentile table (q[i] at i/(n-1)): value -> fraction.
double rank_in(std::span<const float> q, double x) {
  const std::size_t n = q.size();
  if (x <= q.front()) return 0;
  if (x >= q.back()) return 1;
  const std::size_t hi = static_cast<std::size_t>(std::upper_bound(q.begin(), q.end(), static_cast<float>(x)) - q.begin());
  const std::size_t lo_first = static_cast<std::size_t>(std::lower_bound(q.begin(), q.end(), static_cast<float>(x)) - q.begin());
  // Ties (many prompts of one length): the middle of the tied run.
  if (lo_first < hi && q[lo_first] == static_cast<float>(x))
    return 0.5 * static_cast<double>(lo_first + hi - 1) / static_cast<double>(n - 1);
  const std::size_t lo = hi - 1;
  const double f = (x - q[lo]) / std::max(1e-12, static_cast<double>(q[hi] - q[lo]));
  return (static_cast<double>(lo) + f) / static_cast<double>(n - 1);
}
/// fraction -> value.
double value_at(std::span<const float> q, double f) {
  const double pos = std::clamp(f, 0.0, 1.0) * static_cast<double>(q.size() - 1);
  const std::size_t lo = std::min(static_cast<std::size_t>(pos), q.size() - 2);
  return q[lo] + (pos - static_cast<double>(lo)) * (q[lo + 1] - q[lo]);
}
}  // namespace

double LearnedModel::length_prior(std::size_t prompt_bytes) const {
  const ScorePrior& p = parts_.prior;
  if (!p.active()) return 0.5;
  return value_at(p.score_q, rank_in(p.length_q, std::log1p(static_cast<double>(prompt_bytes))));
}

ScoreDetail LearnedModel::score_detail(const RawFeatures& raw, std::size_t prompt_bytes) const {
  ScoreDetail d;
  d.model = model_score(raw);
  const ScorePrior& p = parts_.prior;
  if (!p.active()) {
    d.prior = d.score = d.model;
    return d;
  }
  d.prior = length_prior(prompt_bytes);
  d.shift = shift(raw);
  d.max_shift = p.max_shift;
  d.fallback_prior = p.fallback == ScorePrior::Fallback::length ? "length" : p.fallback == ScorePrior::Fallback::strong ? "strong" : "weak";
  d.fallback = p.max_shift > 0 && d.shift > p.max_shift;
  if (d.fallback) {
    if (p.fallback == ScorePrior::Fallback::strong) d.prior = 1.0;
    else if (p.fallback == ScorePrior::Fallback::weak) d.prior = 0.0;
    d.score = d.prior;
  } else {
    if (p.logit_mix) {
      auto logit = [](double v) {
        v = std::clamp(v, 1e-6, 1.0 - 1e-6);
        return std::log(v / (1.0 - v));
      };
      d.score = sigmoid((1.0 - p.mix) * logit(d.model) + p.mix * logit(d.prior));
    } else {
      d.score = (1.0 - p.mix) * d.model + p.mix * d.prior;
    }
  }
  return d;
}

ScoreDetail LearnedModel::score_detail(std::string_view prompt, const ConversationShape& conversation) const {
  Scratch& s = scratch();
  extractor_.extract(prompt, conversation, s.raw, s.buckets);
  return score_detail(s.raw, prompt.size());
}

std::vector<double> LearnedModel::predict_quality(std::string_view prompt) const {
  Scratch& s = scratch();
  s.logits.resize(parts_.heads.size());
  logits(prompt, s.logits);
  std::vector<double> q(parts_.models.size());
  for (std::size_t m = 0; m < q.size(); ++m) {
    int h = quality_head_[m];
    q[m] = h >= 0 ? sigmoid(s.logits[static_cast<std::size_t>(h)]) : parts_.quality_mean[m];
  }
  return q;
}

Choice LearnedModel::choose(std::string_view prompt, const ChoicePolicy& policy, std::span<const ModelPrice> prices) const {
  Choice c;
  c.predicted_quality = predict_quality(prompt);
  const std::size_t nm = parts_.models.size();
  if (prices.empty()) prices = parts_.prices;
  const double in_tokens = static_cast<double>(prompt.size()) / 4.0;
  c.estimated_cost.assign(nm, 0.0);
  for (std::size_t m = 0; m < nm && m < prices.size(); ++m)
    c.estimated_cost[m] = (in_tokens * prices[m].input_per_m + policy.expected_output_tokens * prices[m].output_per_m) / 1e6;
  std::size_t pick = 0;
  if (policy.kind == ChoicePolicy::Kind::quality_target) {
    bool found = false;
    for (std::size_t m = 0; m < nm; ++m) {
      if (c.predicted_quality[m] < policy.value) continue;
      if (!found || c.estimated_cost[m] < c.estimated_cost[pick]) pick = m;
      found = true;
    }
    if (!found) {
      for (std::size_t m = 1; m < nm; ++m) {
        if (c.predicted_quality[m] > c.predicted_quality[pick] ||
            (c.predicted_quality[m] == c.predicted_quality[pick] && c.estimated_cost[m] < c.estimated_cost[pick]))
          pick = m;
      }
    }
  } else {
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t m = 0; m < nm; ++m) {
      double u = c.predicted_quality[m] - policy.value * c.estimated_cost[m];
      if (u > best) {
        best = u;
        pick = m;
      }
    }
  }
  c.model = pick;
  return c;
}

// File layout (little-endian):
//   "SYLM" u32 version u32 header_bytes, header JSON (features, models, heads, biases, dense scaling, ...)
//   u32 rows, f32 default_idf, then per row: u32 feature index, f32 idf (NaN for dense rows), f32 weight[heads]
// Rows list every hashed bucket seen in training (others have idf = default_idf and zero weights) and
// every dense feature.
std::string LearnedModel::to_bytes() const {
  using nlohmann::json;
  const FeatureConfig& fc = parts_.transform.config();
  json h;
  h["features"] = {{"hash_bits", fc.hash_bits},         {"word_ngram_max", fc.word_ngram_max},
                   {"char_ngram_min", fc.char_ngram_min}, {"char_ngram_max", fc.char_ngram_max},
                   {"dense", fc.dense},                 {"number_shapes", fc.number_shapes},
                   {"max_bytes", fc.max_bytes},         {"structure", fc.structure},
                   {"conversation", fc.conversation},   {"task", fc.task}};
  h["models"] = parts_.models;
  json prices = json::array();
  for (const ModelPrice& p : parts_.prices) prices.push_back({p.input_per_m, p.output_per_m});
  h["prices"] = prices;
  h["strong"] = parts_.strong;
  h["weak"] = parts_.weak;
  json heads = json::array();
  for (const HeadInfo& hi : parts_.heads) heads.push_back({{"name", hi.name}, {"model", hi.model}});
  h["heads"] = heads;
  h["bias"] = parts_.bias;
  h["quality_mean"] = parts_.quality_mean;
  h["threshold"] = parts_.threshold;
  h["notes"] = parts_.notes;
  h["dense_mean"] = parts_.transform.dense_mean();
  h["dense_inv_std"] = parts_.transform.dense_inv_std();
  if (parts_.prior.active()) {
    const ScorePrior& p = parts_.prior;
    json pj;
    pj["fallback"] = p.fallback == ScorePrior::Fallback::length ? "length" : p.fallback == ScorePrior::Fallback::strong ? "strong" : "weak";
    pj["mix"] = p.mix;
    if (p.logit_mix) pj["mix_space"] = "logit";
    pj["length_q"] = p.length_q;
    pj["score_q"] = p.score_q;
    pj["max_shift"] = p.max_shift;
    pj["shift_quantile"] = p.shift_quantile;
    h["prior"] = pj;
  }
  const std::string header = h.dump();

  const std::vector<float>& idf = parts_.transform.idf();
  float default_idf = 0;
  for (float v : idf) default_idf = std::max(default_idf, v);
  const std::size_t nh = parts_.heads.size();
  const std::size_t dim = parts_.transform.dimension();
  std::vector<std::uint32_t> rows;
  for (std::size_t j = 0; j < dim; ++j) {
    bool keep = j >= idf.size() || idf[j] != default_idf;
    for (std::size_t k = 0; k < nh && !keep; ++k) keep = parts_.weights[j * nh + k] != 0.0f;
    if (keep) rows.push_back(static_cast<std::uint32_t>(j));
  }
  std::string out(kMagic, 4);
  put(out, kVersion);
  put(out, static_cast<std::uint32_t>(header.size()));
  out += header;
  put(out, static_cast<std::uint32_t>(rows.size()));
  put(out, default_idf);
  out.reserve(out.size() + rows.size() * (8 + 4 * nh));
  for (std::uint32_t j : rows) {
    put(out, j);
    put(out, j < idf.size() ? idf[j] : std::numeric_limits<float>::quiet_NaN());
    for (std::size_t k = 0; k < nh; ++k) put(out, parts_.weights[j * nh + k]);
  }
  return out;
}

Result<bool> LearnedModel::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return bad_model("cannot write " + tmp);
    const std::string bytes = to_bytes();
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) return bad_model("write failed: " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return bad_model("cannot rename " + tmp + " to " + path);
  return true;
}

Result<std::shared_ptr<const LearnedModel>> LearnedModel::from_bytes(std::string_view bytes) {
  using nlohmann::json;
  Reader r(bytes);
  std::string_view magic, header_text;
  std::uint32_t version = 0, header_len = 0;
  if (!r.bytes(4, magic) || magic != std::string_view(kMagic, 4)) return bad_model("not a switchyard model (bad magic)");
  if (!r.get(version) || version != kVersion) return bad_model("unsupported version " + std::to_string(version));
  if (!r.get(header_len) || !r.bytes(header_len, header_text)) return bad_model("truncated header");
  ModelParts parts;
  FeatureConfig fc;
  std::array<float, kDenseFeatures> mean{}, inv{};
  try {
    auto guarded = sy::json::parse_tree<json>(header_text);  // the JSON guard first: bounded depth and size
    if (!guarded) return bad_model("header: " + guarded.error().message);
    json h = std::move(*guarded);
    const json& f = h.at("features");
    fc.hash_bits = f.at("hash_bits").get<int>();
    fc.word_ngram_max = f.at("word_ngram_max").get<int>();
    fc.char_ngram_min = f.at("char_ngram_min").get<int>();
    fc.char_ngram_max = f.at("char_ngram_max").get<int>();
    fc.dense = f.at("dense").get<bool>();
    fc.number_shapes = f.at("number_shapes").get<bool>();
    fc.max_bytes = f.at("max_bytes").get<std::size_t>();
    fc.structure = f.value("structure", false);
    fc.conversation = f.value("conversation", false);
    fc.task = f.value("task", false);
    if (fc.hash_bits < 8 || fc.hash_bits > 26) return bad_model("hash_bits out of range");
    parts.models = h.at("models").get<std::vector<std::string>>();
    for (const json& p : h.at("prices")) parts.prices.push_back({p.at(0).get<double>(), p.at(1).get<double>()});
    parts.strong = h.at("strong").get<int>();
    parts.weak = h.at("weak").get<int>();
    for (const json& hi : h.at("heads")) parts.heads.push_back({hi.at("name").get<std::string>(), hi.at("model").get<int>()});
    parts.bias = h.at("bias").get<std::vector<float>>();
    parts.quality_mean = h.at("quality_mean").get<std::vector<double>>();
    parts.threshold = h.at("threshold").get<double>();
    parts.notes = h.value("notes", std::string());
    auto dm = h.at("dense_mean").get<std::vector<float>>();
    auto di = h.at("dense_inv_std").get<std::vector<float>>();
    // Files written before the structure block have 18 dense features, before the conversation and task
    // blocks 30; the rest stay 0 (unused).
    if (dm.size() != di.size() || dm.size() > kDenseFeatures ||
        (dm.size() != kDenseFeatures && dm.size() != kBaseDenseFeatures && dm.size() != kConversationOffset))
      return bad_model("dense feature count mismatch");
    if (h.contains("prior")) {
      const json& pj = h.at("prior");
      ScorePrior& p = parts.prior;
      const std::string fb = pj.at("fallback").get<std::string>();
      if (fb == "length") p.fallback = ScorePrior::Fallback::length;
      else if (fb == "strong") p.fallback = ScorePrior::Fallback::strong;
      else if (fb == "weak") p.fallback = ScorePrior::Fallback::weak;
      else return bad_model("prior.fallback must be length, strong or weak");
      p.mix = pj.at("mix").get<double>();
      p.logit_mix = pj.value("mix_space", std::string("score")) == "logit";
      p.length_q = pj.at("length_q").get<std::vector<float>>();
      p.score_q = pj.at("score_q").get<std::vector<float>>();
      p.max_shift = pj.at("max_shift").get<double>();
      p.shift_quantile = pj.value("shift_quantile", 0.0);
      if (!p.active() || !(p.mix >= 0 && p.mix <= 1)) return bad_model("prior tables or mix out of range");
      if (!std::is_sorted(p.length_q.begin(), p.length_q.end()) || !std::is_sorted(p.score_q.begin(), p.score_q.end()))
        return bad_model("prior tables must be sorted");
    }
    std::copy(dm.begin(), dm.end(), mean.begin());
    std::copy(di.begin(), di.end(), inv.begin());
  } catch (const std::exception& e) {
    return bad_model(std::string("bad header: ") + e.what());
  }
  const std::size_t buckets = std::size_t{1} << fc.hash_bits;
  const std::size_t dim = buckets + (fc.dense ? kDenseFeatures : 0);
  const std::size_t nh = parts.heads.size();
  std::uint32_t nrows = 0;
  float default_idf = 0;
  if (!r.get(nrows) || !r.get(default_idf)) return bad_model("truncated weights");
  std::vector<float> idf(buckets, default_idf);
  parts.weights.assign(dim * nh, 0.0f);
  for (std::uint32_t i = 0; i < nrows; ++i) {
    std::uint32_t j = 0;
    float v = 0;
    if (!r.get(j) || !r.get(v)) return bad_model("truncated weights");
    if (j >= dim) return bad_model("feature index out of range");
    if (j < buckets) idf[j] = v;
    for (std::size_t k = 0; k < nh; ++k)
      if (!r.get(parts.weights[static_cast<std::size_t>(j) * nh + k])) return bad_model("truncated weights");
  }
  if (!r.done()) return bad_model("trailing bytes");
  parts.transform = FeatureTransform(fc, std::move(idf), mean, inv);
  return from_parts(std::move(parts));
}

Result<std::shared_ptr<const LearnedModel>> LearnedModel::load(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return std::move(bytes).error();
  auto m = from_bytes(*bytes);
  if (!m) {
    Error e = std::move(m).error();
    e.message = path + ": " + e.message;
    return e;
  }
  return m;
}

}  // namespace sy::learn
