#include "switchyard/embed/use_lite_embedder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

#include "kernels.hpp"
#include "switchyard/embed/unigram_tokenizer.hpp"

namespace sy::embed {
namespace {

using kernels::AlignedVector;
using kernels::PackedMatrix;

// Blob layout: see scripts/fetch-use-lite.sh, which writes it.
constexpr char kMagic[8] = {'S', 'Y', 'U', 'S', 'E', 'L', 'I', 'T'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 80;
constexpr std::size_t kEntryBytes = 24;

constexpr std::uint32_t kD0 = 256;    // width of the embeddings and layer 0's attention
constexpr std::uint32_t kD1 = 512;    // width after layer 0
constexpr std::uint32_t kFfn = 1536;  // FFN hidden width
constexpr std::uint32_t kHeads = 4;
constexpr std::uint32_t kTimescales = 128;
constexpr std::uint32_t kEmbedRows = 8002;
constexpr std::uint32_t kReservedIds = 6;  // <unk> <s> </s> and three extra ids: never produced by the tokenizer

// Tensor ids in blob order.
enum TensorId : std::uint32_t {
  kEmbeddings, kInvTimescales,
  kL0AttnLnScale, kL0AttnLnBias, kL0Qkv, kL0QkvBias, kL0Out, kL0OutBias, kL0Res, kL0ResBias,
  kL0FfnLnScale, kL0FfnLnBias, kL0Ffn1, kL0Ffn1Bias, kL0Ffn2, kL0Ffn2Bias,
  kL1AttnLnScale, kL1AttnLnBias, kL1Qkv, kL1QkvBias, kL1Out, kL1OutBias,
  kL1FfnLnScale, kL1FfnLnBias, kL1Ffn1, kL1Ffn1Bias, kL1Ffn2, kL1Ffn2Bias,
  kTanh, kTanhBias, kTensorCount
};

struct Shape {
  std::uint32_t rows, cols;
};
constexpr Shape kShapes[kTensorCount] = {
    {kEmbedRows, kD0}, {1, kTimescales},
    {1, kD0}, {1, kD0}, {kD0, 3 * kD0}, {1, 3 * kD0}, {kD0, kD1}, {1, kD1}, {kD0, kD1}, {1, kD1},
    {1, kD1}, {1, kD1}, {kD1, kFfn}, {1, kFfn}, {kFfn, kD1}, {1, kD1},
    {1, kD1}, {1, kD1}, {kD1, 3 * kD1}, {1, 3 * kD1}, {kD1, kD1}, {1, kD1},
    {1, kD1}, {1, kD1}, {kD1, kFfn}, {1, kFfn}, {kFfn, kD1}, {1, kD1},
    {kD1, kD1}, {1, kD1},
};

template <class T>
T read_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // the blob is little-endian, like every target we build for
  return v;
}

std::uint32_t checksum(const char* p, std::size_t n) {
  std::uint32_t h = 0x811c9dc5u;
  for (std::size_t i = 0; i + 4 <= n; i += 4) h = (h ^ read_le<std::uint32_t>(p + i)) * 0x01000193u;
  return h;
}

// Activations for one forward pass; reused per thread.
struct Scratch {
  std::vector<float> x0, qkv, attn, h, ln, ffn, scores, pooled, out;
  PackedMatrix kt, v;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void layer_norm(const float* x, std::size_t rows, std::size_t dim, const float* scale, const float* bias, float eps,
                float* out) {
  for (std::size_t t = 0; t < rows; ++t) {
    const float* xr = x + t * dim;
    float* o = out + t * dim;
    float mean = 0;
    for (std::size_t i = 0; i < dim; ++i) mean += xr[i];
    mean /= static_cast<float>(dim);
    float var = 0;
    for (std::size_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<float>(dim);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (std::size_t i = 0; i < dim; ++i) o[i] = (xr[i] - mean) * (scale[i] * inv) + bias[i];
  }
}

}  // namespace

struct UseLiteEmbedder::Model {
  std::unique_ptr<UnigramTokenizer> tokenizer;
  // Weights.
  std::vector<float> embeddings;  // kEmbedRows x kD0
  std::vector<float> inv_timescales;
  std::vector<float> vec[kTensorCount];  // biases and layer-norm parameters (1 x n tensors)
  PackedMatrix mat[kTensorCount];        // matrices, packed for the GEMM kernel
  float ln_eps = 1e-6f, q_scale0 = 0.125f, q_scale1 = 0.0883883f, l2_eps = 1e-12f;
  std::size_t max_tokens = UseLiteEmbedder::kMaxTokens;
  bool fp16 = false;
};

std::string UseLiteEmbedder::default_model_path() {
  std::string dir;
  if (const char* m = std::getenv("SWITCHYARD_MODELS"); m != nullptr && *m != '\0') {
    dir = m;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    dir = std::string(home) + "/.cache/switchyard/models";
  } else {
    dir = ".";
  }
  return dir + "/" + std::string(kBlobName);
}

Result<std::shared_ptr<const UseLiteEmbedder>> UseLiteEmbedder::load(const std::string& path,
                                                                     const UseLiteOptions& options) {
  auto fail = [&](const std::string& why) {
    return Error::make(ErrorKind::internal, "use-lite model " + path + ": " + why +
                                                " (run scripts/fetch-use-lite.sh to fetch and convert it)");
  };
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return fail("cannot open file");
  const std::streamoff size = in.tellg();
  if (size < static_cast<std::streamoff>(kHeaderBytes)) return fail("file too small to be a model blob");
  std::vector<char> buf(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(buf.data(), size)) return fail("read failed");
  const char* p = buf.data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return fail("bad magic: not a use-lite blob");
  if (read_le<std::uint32_t>(p + 8) != kVersion)
    return fail("unsupported blob version " + std::to_string(read_le<std::uint32_t>(p + 8)));
  const std::uint32_t header_bytes = read_le<std::uint32_t>(p + 12);
  const std::uint32_t vocab_count = read_le<std::uint32_t>(p + 16);
  const std::uint32_t embed_rows = read_le<std::uint32_t>(p + 20);
  const std::uint32_t tensor_count = read_le<std::uint32_t>(p + 24);
  const std::uint64_t vocab_offset = read_le<std::uint64_t>(p + 48);
  const std::uint64_t vocab_bytes = read_le<std::uint64_t>(p + 56);
  const std::uint64_t sum = read_le<std::uint64_t>(p + 64);
  const std::uint64_t file_bytes = read_le<std::uint64_t>(p + 72);
  if (file_bytes != buf.size())
    return fail("truncated or padded: header says " + std::to_string(file_bytes) + " bytes, file has " +
                std::to_string(buf.size()));
  if (tensor_count != kTensorCount) return fail("expected " + std::to_string(kTensorCount) + " tensors, blob has " +
                                                std::to_string(tensor_count));
  if (embed_rows != kEmbedRows) return fail("unexpected embedding rows " + std::to_string(embed_rows));
  if (header_bytes < kHeaderBytes + kEntryBytes * tensor_count || header_bytes > buf.size() || header_bytes % 4 != 0)
    return fail("bad header size");
  if (vocab_count == 0 || vocab_count > embed_rows || vocab_offset < header_bytes ||
      vocab_offset + vocab_bytes > buf.size())
    return fail("bad vocabulary section");
  if (checksum(p + header_bytes, buf.size() - header_bytes) != sum) return fail("checksum mismatch (corrupt file)");

  auto model = std::make_unique<Model>();
  model->ln_eps = read_le<float>(p + 28);
  model->q_scale0 = read_le<float>(p + 32);
  model->q_scale1 = read_le<float>(p + 36);
  model->l2_eps = read_le<float>(p + 40);
  model->max_tokens = read_le<std::uint32_t>(p + 44);
  if (model->max_tokens == 0 || model->max_tokens > kMaxTokens) return fail("bad max token count");

  // Vocabulary.
  const char* v = p + vocab_offset;
  const char* v_end = v + vocab_bytes;
  std::vector<std::pair<std::string, double>> pieces(vocab_count);
  for (std::uint32_t id = 0; id < vocab_count; ++id) {
    if (v_end - v < 12) return fail("vocabulary truncated");
    pieces[id].second = read_le<double>(v);
    const std::uint32_t len = read_le<std::uint32_t>(v + 8);
    v += 12;
    if (static_cast<std::size_t>(v_end - v) < len) return fail("vocabulary truncated");
    pieces[id].first.assign(v, len);
    v += len;
  }
  model->tokenizer = std::make_unique<UnigramTokenizer>(pieces, kReservedIds);

  // Tensors.
  for (std::uint32_t i = 0; i < tensor_count; ++i) {
    const char* e = p + kHeaderBytes + kEntryBytes * i;
    const std::uint32_t id = read_le<std::uint32_t>(e);
    const std::uint32_t rows = read_le<std::uint32_t>(e + 4);
    const std::uint32_t cols = read_le<std::uint32_t>(e + 8);
    const std::uint64_t offset = read_le<std::uint64_t>(e + 16);
    if (id != i) return fail("tensor table out of order at entry " + std::to_string(i));
    if (rows != kShapes[id].rows || cols != kShapes[id].cols)
      return fail("tensor " + std::to_string(id) + " has shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                  ", expected " + std::to_string(kShapes[id].rows) + "x" + std::to_string(kShapes[id].cols));
    const std::uint64_t bytes = std::uint64_t{rows} * cols * 4;
    if (offset < header_bytes || offset + bytes > buf.size()) return fail("tensor " + std::to_string(id) + " out of bounds");
    std::vector<float> data(static_cast<std::size_t>(rows) * cols);
    std::memcpy(data.data(), p + offset, bytes);
    if (id == kEmbeddings) {
      model->embeddings = std::move(data);
    } else if (id == kInvTimescales) {
      model->inv_timescales = std::move(data);
    } else if (rows == 1) {
      model->vec[id] = std::move(data);
    } else {
      model->mat[id].pack(data.data(), rows, cols, cols);
      if (options.fp16_weights) model->fp16 = model->mat[id].to_half();
    }
  }
  return std::shared_ptr<const UseLiteEmbedder>(std::make_shared<UseLiteEmbedder>(std::move(model)));
}

UseLiteEmbedder::UseLiteEmbedder(std::unique_ptr<Model> model) : model_(std::move(model)) {
  layout_ = {PartLayout{kDim, false, 1.0f, "use-lite"}};
}

UseLiteEmbedder::~UseLiteEmbedder() = default;

bool UseLiteEmbedder::fp16_weights() const { return model_->fp16; }

std::size_t UseLiteEmbedder::memory_bytes() const {
  const Model& m = *model_;
  std::size_t n = sizeof(Model) + m.tokenizer->memory_bytes() +
                  (m.embeddings.capacity() + m.inv_timescales.capacity()) * 4;
  for (std::uint32_t i = 0; i < kTensorCount; ++i) n += m.vec[i].capacity() * 4 + m.mat[i].memory_bytes();
  return n;
}

std::vector<std::int32_t> UseLiteEmbedder::tokenize(std::string_view text) const {
  return model_->tokenizer->encode(text, model_->max_tokens);
}

void UseLiteEmbedder::encode(const std::vector<std::int32_t>& ids, float* out) const {
  const std::vector<std::int32_t>* one = &ids;
  encode_batch(std::span<const std::vector<std::int32_t>* const>(&one, 1), out);
}

void UseLiteEmbedder::encode_batch(std::span<const std::vector<std::int32_t>* const> batch, float* out) const {
  const Model& m = *model_;
  // Sequences are stacked row-wise: every matrix product runs once over all their tokens (so the
  // weights stream from memory once per batch), attention and pooling run per sequence.
  std::vector<std::size_t> begin(batch.size() + 1, 0);
  for (std::size_t b = 0; b < batch.size(); ++b) begin[b + 1] = begin[b] + std::min(batch[b]->size(), m.max_tokens);
  const std::size_t T = begin.back();
  if (T == 0) {
    std::fill(out, out + batch.size() * kDim, 0.0f);
    return;
  }
  Scratch& s = scratch();
  s.x0.resize(T * kD0);
  s.qkv.resize(T * 3 * kD1);
  s.attn.resize(T * kD1);
  s.h.resize(T * kD1);
  s.ln.resize(T * kD1);
  s.ffn.resize(T * kFfn);
  s.scores.resize(m.max_tokens * m.max_tokens);

  // Input: the graph adds the embedding twice (once through the timing-signal branch) plus the
  // sinusoidal timing signal [sin(p * inv_t), cos(p * inv_t)], p the position in the sequence.
  for (std::size_t b = 0; b < batch.size(); ++b) {
    for (std::size_t t = 0; t < begin[b + 1] - begin[b]; ++t) {
      const std::int32_t id = (*batch[b])[t];
      const std::size_t row = (id >= 0 && static_cast<std::uint32_t>(id) < kEmbedRows) ? static_cast<std::size_t>(id) : 0;
      const float* e = m.embeddings.data() + row * kD0;
      float* x = s.x0.data() + (begin[b] + t) * kD0;
      for (std::uint32_t j = 0; j < kTimescales; ++j) {
        const float arg = static_cast<float>(t) * m.inv_timescales[j];
        x[j] = (e[j] + e[j]) + std::sin(arg);
        x[j + kTimescales] = (e[j + kTimescales] + e[j + kTimescales]) + std::cos(arg);
      }
    }
  }

  // Multi-head self-attention of each sequence over the rows of `in` (width d), into s.attn.
  auto attention = [&](const float* in, std::size_t d, TensorId qkv_w, float q_scale) {
    kernels::gemm(in, T, d, m.mat[qkv_w], m.vec[qkv_w + 1].data(), s.qkv.data(), 3 * d);
    const std::size_t hd = d / kHeads;
    const std::size_t ld = 3 * d;
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t j = 0; j < d; ++j) s.qkv[t * ld + j] *= q_scale;
    for (std::size_t b = 0; b < batch.size(); ++b) {
      const std::size_t n = begin[b + 1] - begin[b];
      if (n == 0) continue;
      const float* rows = s.qkv.data() + begin[b] * ld;
      for (std::size_t h = 0; h < kHeads; ++h) {
        s.kt.pack_transposed(rows + d + h * hd, hd, n, ld);
        kernels::gemm(rows + h * hd, n, ld, s.kt, nullptr, s.scores.data(), n);
        for (std::size_t t = 0; t < n; ++t) kernels::softmax(s.scores.data() + t * n, n);
        s.v.pack(rows + 2 * d + h * hd, n, hd, ld);
        kernels::gemm(s.scores.data(), n, n, s.v, nullptr, s.attn.data() + begin[b] * d + h * hd, d);
      }
    }
  };
  auto ffn = [&](float* h, TensorId ln_scale, TensorId w1, TensorId w2) {
    layer_norm(h, T, kD1, m.vec[ln_scale].data(), m.vec[ln_scale + 1].data(), m.ln_eps, s.ln.data());
    kernels::gemm(s.ln.data(), T, kD1, m.mat[w1], m.vec[w1 + 1].data(), s.ffn.data(), kFfn);
    for (float& x : s.ffn) x = x > 0.0f ? x : 0.0f;
    kernels::gemm(s.ffn.data(), T, kFfn, m.mat[w2], m.vec[w2 + 1].data(), s.ln.data(), kD1);
    for (std::size_t i = 0; i < T * kD1; ++i) h[i] += s.ln[i];
  };

  // Layer 0: width 256 -> 512; the residual goes through a dense projection.
  layer_norm(s.x0.data(), T, kD0, m.vec[kL0AttnLnScale].data(), m.vec[kL0AttnLnBias].data(), m.ln_eps, s.ln.data());
  attention(s.ln.data(), kD0, kL0Qkv, m.q_scale0);
  kernels::gemm(s.attn.data(), T, kD0, m.mat[kL0Out], m.vec[kL0OutBias].data(), s.h.data(), kD1);
  kernels::gemm(s.x0.data(), T, kD0, m.mat[kL0Res], m.vec[kL0ResBias].data(), s.ln.data(), kD1);
  for (std::size_t i = 0; i < T * kD1; ++i) s.h[i] += s.ln[i];
  ffn(s.h.data(), kL0FfnLnScale, kL0Ffn1, kL0Ffn2);

  // Layer 1: width 512, identity residual.
  layer_norm(s.h.data(), T, kD1, m.vec[kL1AttnLnScale].data(), m.vec[kL1AttnLnBias].data(), m.ln_eps, s.ln.data());
  attention(s.ln.data(), kD1, kL1Qkv, m.q_scale1);
  kernels::gemm(s.attn.data(), T, kD1, m.mat[kL1Out], m.vec[kL1OutBias].data(), s.ln.data(), kD1);
  for (std::size_t i = 0; i < T * kD1; ++i) s.h[i] += s.ln[i];
  ffn(s.h.data(), kL1FfnLnScale, kL1Ffn1, kL1Ffn2);

  // Per sequence: mean over its tokens; then dense + tanh and L2 normalisation for all at once.
  s.pooled.assign(batch.size() * kD1, 0.0f);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const std::size_t n = begin[b + 1] - begin[b];
    float* pooled = s.pooled.data() + b * kD1;
    for (std::size_t t = begin[b]; t < begin[b + 1]; ++t)
      for (std::size_t j = 0; j < kD1; ++j) pooled[j] += s.h[t * kD1 + j];
    const float count = static_cast<float>(std::max<std::size_t>(n, 1));
    for (std::size_t j = 0; j < kD1; ++j) pooled[j] /= count;
  }
  kernels::gemm(s.pooled.data(), batch.size(), kD1, m.mat[kTanh], m.vec[kTanhBias].data(), out, kDim);
  for (std::size_t b = 0; b < batch.size(); ++b) {
    float* o = out + b * kDim;
    if (begin[b + 1] == begin[b]) {  // empty input: the zero vector, similar to nothing
      std::fill(o, o + kDim, 0.0f);
      continue;
    }
    float ss = 0;
    for (std::size_t j = 0; j < kDim; ++j) {
      o[j] = std::tanh(o[j]);
      ss += o[j] * o[j];
    }
    const float inv = 1.0f / std::sqrt(std::max(ss, m.l2_eps));
    for (std::size_t j = 0; j < kDim; ++j) o[j] *= inv;
  }
}

Embedding UseLiteEmbedder::embed(std::string_view text) const {
  Embedding e;
  e.parts.resize(1);
  EmbeddingPart& part = e.parts[0];
  part.dim = kDim;
  part.sparse = false;
  part.weight = 1.0f;
  part.values.resize(kDim);
  encode(tokenize(text), part.values.data());
  return e;
}

std::vector<Embedding> UseLiteEmbedder::embed_batch(std::span<const std::string_view> texts) const {
  std::vector<Embedding> out(texts.size());
  // Chunks of ~512 token rows keep the activations (a few MB) in cache-friendly bounds.
  constexpr std::size_t kMaxRows = 512;
  std::vector<std::vector<std::int32_t>> ids;
  std::vector<const std::vector<std::int32_t>*> ptrs;
  std::vector<float> buf;
  for (std::size_t i = 0; i < texts.size();) {
    ids.clear();
    std::size_t rows = 0, j = i;
    while (j < texts.size() && (j == i || rows < kMaxRows)) {
      ids.push_back(tokenize(texts[j]));
      rows += std::min(ids.back().size(), model_->max_tokens);
      ++j;
    }
    ptrs.clear();
    for (const auto& v : ids) ptrs.push_back(&v);
    buf.resize(ptrs.size() * kDim);
    encode_batch(ptrs, buf.data());
    for (std::size_t k = 0; k < ptrs.size(); ++k) {
      EmbeddingPart part;
      part.dim = kDim;
      part.values.assign(buf.begin() + static_cast<std::ptrdiff_t>(k * kDim),
                         buf.begin() + static_cast<std::ptrdiff_t>((k + 1) * kDim));
      out[i + k].parts.push_back(std::move(part));
    }
    i = j;
  }
  return out;
}

}  // namespace sy::embed
