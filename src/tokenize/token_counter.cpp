#include "switchyard/tokenize/token_counter.hpp"

#include <array>
#include <utility>

namespace sy::tokenize {

std::string_view to_string(CountMethod method) {
  switch (method) {
    case CountMethod::o200k_base: return "o200k_base";
    case CountMethod::cl100k_base: return "cl100k_base";
    case CountMethod::cl100k_proxy: return "cl100k_proxy";
    case CountMethod::estimate: return "estimate";
  }
  return "unknown";
}

namespace {

struct FamilyPrefix {
  std::string_view prefix;
  Encoding encoding;
};

// Model-name prefixes of OpenAI's families (after tiktoken's model table), most specific first: the
// first prefix that matches up to a separator wins, so "gpt-4o" is listed before "gpt-4".
constexpr std::array<FamilyPrefix, 18> kFamilies{{
    {"gpt-4o", Encoding::o200k_base},
    {"chatgpt-4o", Encoding::o200k_base},
    {"gpt-4.1", Encoding::o200k_base},
    {"gpt-4.5", Encoding::o200k_base},
    {"gpt-5", Encoding::o200k_base},
    {"gpt-oss", Encoding::o200k_base},  // o200k_harmony: o200k_base plus special tokens
    {"o1", Encoding::o200k_base},
    {"o3", Encoding::o200k_base},
    {"o4", Encoding::o200k_base},
    {"codex", Encoding::o200k_base},
    {"omni-moderation", Encoding::o200k_base},
    {"gpt-4", Encoding::cl100k_base},
    {"gpt-3.5", Encoding::cl100k_base},
    {"gpt-35", Encoding::cl100k_base},  // Azure's spelling
    {"text-embedding-3", Encoding::cl100k_base},
    {"text-embedding-ada-002", Encoding::cl100k_base},
    {"davinci-002", Encoding::cl100k_base},
    {"babbage-002", Encoding::cl100k_base},
}};

bool is_separator(char c) { return c == '-' || c == '.' || c == ':' || c == '_' || c == '@'; }

}  // namespace

std::optional<Encoding> encoding_for_model(std::string_view model) {
  if (const std::size_t slash = model.rfind('/'); slash != std::string_view::npos) model.remove_prefix(slash + 1);
  if (model.starts_with("ft:")) model.remove_prefix(3);
  for (const FamilyPrefix& f : kFamilies) {
    if (model.starts_with(f.prefix) && (model.size() == f.prefix.size() || is_separator(model[f.prefix.size()]))) {
      return f.encoding;
    }
  }
  return std::nullopt;
}

ModelTokenCounter::ModelTokenCounter(CountMethod method, std::shared_ptr<const Tokenizer> tokenizer)
    : method_(tokenizer ? method : CountMethod::estimate), tokenizer_(std::move(tokenizer)) {}

std::size_t ModelTokenCounter::count(std::string_view text) const {
  return tokenizer_ ? tokenizer_->count(text) : estimate_tokens(text);
}

std::size_t ModelTokenCounter::count_chat(std::span<const ChatMessage> messages) const {
  std::size_t n = kReplyPrimingTokens;
  for (const ChatMessage& m : messages) {
    n += kTokensPerMessage + count(m.role) + count(m.content);
    if (!m.name.empty()) n += kTokensPerName + count(m.name);
  }
  return n;
}

std::size_t ModelTokenCounter::count_chat(std::span<const MessageText> messages) const {
  std::size_t n = kReplyPrimingTokens;
  for (const MessageText& m : messages) n += kTokensPerMessage + count(m.role) + count(m.text);
  return n;
}

std::size_t chat_tokens_upper_bound(std::span<const MessageText> messages) {
  std::size_t n = kReplyPrimingTokens;
  for (const MessageText& m : messages) n += kTokensPerMessage + m.role.size() + m.text.size();
  return n;
}

std::shared_ptr<const TokenCounter> TokenCounter::load(const std::filesystem::path& dir) {
  std::vector<std::string> errors;
  auto load_one = [&](Encoding e) -> std::shared_ptr<const Tokenizer> {
    auto r = Tokenizer::load(e, dir);
    if (r) return std::move(r).value();
    errors.push_back(std::move(r).error().message);
    return nullptr;
  };
  auto o200k = load_one(Encoding::o200k_base);
  auto cl100k = load_one(Encoding::cl100k_base);
  return std::make_shared<const TokenCounter>(std::move(o200k), std::move(cl100k), std::move(errors));
}

TokenCounter::TokenCounter(std::shared_ptr<const Tokenizer> o200k, std::shared_ptr<const Tokenizer> cl100k,
                           std::vector<std::string> load_errors)
    : o200k_(std::move(o200k)), cl100k_(std::move(cl100k)), load_errors_(std::move(load_errors)) {}

bool TokenCounter::has(Encoding encoding) const {
  return encoding == Encoding::o200k_base ? o200k_ != nullptr : cl100k_ != nullptr;
}

ModelTokenCounter TokenCounter::for_model(std::string_view model) const {
  const std::optional<Encoding> encoding = encoding_for_model(model);
  if (!encoding) return ModelTokenCounter(CountMethod::cl100k_proxy, cl100k_);
  switch (*encoding) {
    case Encoding::o200k_base: return ModelTokenCounter(CountMethod::o200k_base, o200k_);
    case Encoding::cl100k_base: return ModelTokenCounter(CountMethod::cl100k_base, cl100k_);
  }
  return ModelTokenCounter(CountMethod::estimate, nullptr);
}

}  // namespace sy::tokenize
