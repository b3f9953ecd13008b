#include <algorithm>

#include "switchyard/embed/embedder.hpp"
#include "switchyard/pipeline/stage.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::pipeline {

std::int64_t RequestFeatures::prompt_tokens() const {
  if (!prompt_tokens_) {
    const auto& msgs = request_.messages();
    if (counter_) {
      // Before routing the model is unknown: o200k (today's OpenAI encoding) is the yardstick.
      prompt_tokens_ = static_cast<std::int64_t>(counter_->for_model("gpt-4o").count_chat(msgs));
    } else {
      std::size_t bytes = 0;
      for (const auto& m : msgs) bytes += m.text.size();
      prompt_tokens_ = static_cast<std::int64_t>(bytes / 4 + 3 * msgs.size() + 3);
    }
  }
  return *prompt_tokens_;
}

std::pair<std::int64_t, std::int64_t> RequestFeatures::prompt_tokens_bounds() const {
  if (prompt_tokens_) return {*prompt_tokens_, *prompt_tokens_};
  if (!counter_) return {prompt_tokens(), prompt_tokens()};  // the estimate is cheap
  return {0, static_cast<std::int64_t>(tokenize::chat_tokens_upper_bound(request_.messages()))};
}

const embed::Embedding* RequestFeatures::cached_embedding(const embed::Embedder* e, std::string_view text) const {
  for (const auto& c : embeddings_) {
    if (c.embedder == e && c.text == text) return &c.vector;
  }
  return nullptr;
}

void RequestFeatures::store_embedding(const embed::Embedder* e, std::string_view text, embed::Embedding v) {
  embeddings_.push_back({e, std::string(text), std::move(v)});
}

std::string BuildContext::resolve_path(const std::string& p) {
  std::string path = p.empty() || p.front() == '/' || base_dir.empty() ? p : base_dir + "/" + p;
  if (!path.empty() && std::find(inputs.begin(), inputs.end(), path) == inputs.end()) inputs.push_back(path);
  return path;
}

}  // namespace sy::pipeline
