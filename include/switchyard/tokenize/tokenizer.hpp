#pragma once
/// Exact token counts for OpenAI's byte-pair encodings (o200k_base, cl100k_base).
///
/// A `Tokenizer` is the tiktoken algorithm re-implemented: a hand-written scanner reproduces each
/// encoding's pre-tokenisation regex over UTF-8, then every piece is byte-pair merged by rank. The rank
/// files are not committed; `scripts/fetch-tokenizers.sh` writes `<dir>/<encoding>.tiktoken` (the
/// standard tiktoken format, byte-identical to OpenAI's published files).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::tokenize {

/// The encodings this module implements.
enum class Encoding : std::uint8_t { o200k_base, cl100k_base };

/// "o200k_base", "cl100k_base".
std::string_view to_string(Encoding encoding);
/// The inverse of `to_string`; nullopt for any other name.
std::optional<Encoding> encoding_from_name(std::string_view name);

/// Where the rank files live unless configured: `$SWITCHYARD_MODELS`, else
/// `$HOME/.cache/switchyard/models`, else `./models`.
std::filesystem::path default_models_dir();

/// One loaded encoding. Immutable after `load`, so every member is safe to call from any number of
/// threads at once; share it as `shared_ptr<const Tokenizer>`. `count` allocates nothing except for
/// pre-tokenised pieces longer than 128 bytes (`encode` also grows its output vector). Neither fails:
/// bytes that are not valid UTF-8 are tokenised as single bytes, and special-token text such as
/// "<|endoftext|>" counts as ordinary text (tiktoken's `encode_ordinary`). Cost: roughly 10-35 µs per KB.
class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  /// Reads `<dir>/<to_string(encoding)>.tiktoken`. Errors (kind `unavailable`) name the file and, for
  /// a malformed file, the line.
  static Result<std::shared_ptr<const Tokenizer>> load(Encoding encoding, const std::filesystem::path& dir);
  /// Same, by name ("o200k_base"); an unknown name is a `bad_request` error.
  static Result<std::shared_ptr<const Tokenizer>> load(std::string_view encoding_name,
                                                       const std::filesystem::path& dir);
  /// Builds from the text of a `.tiktoken` file: one `<base64 bytes> <rank>` per line.
  static Result<std::shared_ptr<const Tokenizer>> from_tiktoken(Encoding encoding, std::string_view contents);

  Encoding encoding() const;
  /// Number of mergeable ranks (200000-ish for o200k_base), special tokens excluded.
  std::size_t vocab_size() const;

  /// Number of tokens `encode(text)` would return.
  std::size_t count(std::string_view text) const;
  /// Token ids of `text`, as tiktoken's `encode_ordinary`.
  std::vector<std::uint32_t> encode(std::string_view text) const;
  /// Appends the token ids of `text` to `out`.
  void encode(std::string_view text, std::vector<std::uint32_t>& out) const;
  /// The bytes of the tokens (not necessarily valid UTF-8 for a partial sequence); unknown ids are skipped.
  std::string decode(std::span<const std::uint32_t> tokens) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sy::tokenize
