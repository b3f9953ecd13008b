#pragma once
/// Token counts per model, for context-window checks and tokens-per-minute accounting.
///
/// `TokenCounter` picks the counting method from the model name: OpenAI models get their exact
/// encoding (o200k_base or cl100k_base); other families get cl100k_base as a proxy; and when a rank
/// file is missing everything falls back to `estimate_tokens`, so the proxy runs without the files.
/// See src/tokenize/README.md for the measured error of the proxy and of the estimate.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/request.hpp"
#include "switchyard/tokenize/tokenizer.hpp"

namespace sy::tokenize {

/// How a model's tokens are counted.
enum class CountMethod : std::uint8_t {
  o200k_base,    ///< exact: an OpenAI model on o200k_base
  cl100k_base,   ///< exact: an OpenAI model on cl100k_base
  cl100k_proxy,  ///< approximate: a non-OpenAI model counted with cl100k_base
  estimate,      ///< approximate: `estimate_tokens`, because the rank file is not loaded
};
std::string_view to_string(CountMethod method);

/// One chat message as counted. `name` is the optional OpenAI `name` field.
struct ChatMessage {
  std::string_view role;
  std::string_view content;
  std::string_view name = {};
};

/// OpenAI's chat framing, as in its cookbook: every message costs 3 tokens on top of its fields' text
/// (plus 1 when it has a `name`), and every reply is primed with 3 more.
inline constexpr std::size_t kTokensPerMessage = 3;
inline constexpr std::size_t kTokensPerName = 1;
inline constexpr std::size_t kReplyPrimingTokens = 3;

/// Token estimate without any rank file: o200k_base's pre-tokeniser splits the text and each piece is
/// priced by its length and script (see README for the fit and its error). Thread-safe, allocation-free.
std::size_t estimate_tokens(std::string_view text);

/// An upper bound of `count_chat(messages)` for every counting method, in O(messages) without
/// tokenising: every BPE token of o200k/cl100k covers at least one byte, and the estimate never prices
/// a code point above one token. Lets callers skip exact counting when a limit is far away.
std::size_t chat_tokens_upper_bound(std::span<const MessageText> messages);

/// The OpenAI encoding a model name implies ("gpt-4o-mini" -> o200k_base), or nullopt for a model
/// of another family. A provider prefix ("openai/gpt-4o") and a fine-tune prefix ("ft:") are ignored.
std::optional<Encoding> encoding_for_model(std::string_view model);

/// A model's counting method, resolved once (e.g. per deployment when the config is built). Cheap to
/// copy; keeps its tokenizer alive. Immutable, so thread-safe.
class ModelTokenCounter {
 public:
  ModelTokenCounter(CountMethod method, std::shared_ptr<const Tokenizer> tokenizer);

  CountMethod method() const { return method_; }
  /// Whether counts are exactly what the provider will bill.
  bool exact() const { return method_ == CountMethod::o200k_base || method_ == CountMethod::cl100k_base; }

  std::size_t count(std::string_view text) const;
  /// Prompt tokens of a chat request: the messages' text plus OpenAI's framing overhead.
  std::size_t count_chat(std::span<const ChatMessage> messages) const;
  std::size_t count_chat(std::span<const MessageText> messages) const;

 private:
  CountMethod method_;
  std::shared_ptr<const Tokenizer> tokenizer_;  // null for CountMethod::estimate
};

/// The tokenizers the process has, shared as `shared_ptr<const TokenCounter>`. Immutable after
/// construction: every member is thread-safe.
class TokenCounter {
 public:
  /// Loads o200k_base and cl100k_base from `dir`. Never fails: a missing or malformed file leaves that
  /// encoding to the estimate, and `load_errors()` says why.
  static std::shared_ptr<const TokenCounter> load(const std::filesystem::path& dir = default_models_dir());

  /// From tokenizers already loaded; either may be null.
  TokenCounter(std::shared_ptr<const Tokenizer> o200k, std::shared_ptr<const Tokenizer> cl100k,
               std::vector<std::string> load_errors = {});

  bool has(Encoding encoding) const;
  /// True when no rank file is loaded: every count is `estimate_tokens`.
  bool estimates_only() const { return !o200k_ && !cl100k_; }
  /// One message per encoding that failed to load, naming the file and the fix.
  const std::vector<std::string>& load_errors() const { return load_errors_; }

  /// How `model` is counted with the files this counter has.
  ModelTokenCounter for_model(std::string_view model) const;

  std::size_t count(std::string_view model, std::string_view text) const { return for_model(model).count(text); }
  std::size_t count_chat(std::string_view model, std::span<const ChatMessage> messages) const {
    return for_model(model).count_chat(messages);
  }
  std::size_t count_chat(std::string_view model, std::span<const MessageText> messages) const {
    return for_model(model).count_chat(messages);
  }

 private:
  std::shared_ptr<const Tokenizer> o200k_;
  std::shared_ptr<const Tokenizer> cl100k_;
  std::vector<std::string> load_errors_;
};

}  // namespace sy::tokenize
