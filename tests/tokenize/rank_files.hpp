#pragma once
// Shared by the tokenize tests that need the real rank files: loads each encoding once per process from
// $SWITCHYARD_MODELS (or ~/.cache/switchyard/models) and lets tests skip when the files are absent.
#include <memory>

#include "switchyard/tokenize/tokenizer.hpp"

namespace sy::tokenize::testing {

/// The loaded tokenizer, or null when the rank file is absent or unreadable.
inline std::shared_ptr<const Tokenizer> rank_file_tokenizer(Encoding encoding) {
  static const std::shared_ptr<const Tokenizer> o200k = [] {
    auto r = Tokenizer::load(Encoding::o200k_base, default_models_dir());
    return r ? r.value() : nullptr;
  }();
  static const std::shared_ptr<const Tokenizer> cl100k = [] {
    auto r = Tokenizer::load(Encoding::cl100k_base, default_models_dir());
    return r ? r.value() : nullptr;
  }();
  return encoding == Encoding::o200k_base ? o200k : cl100k;
}

}  // namespace sy::tokenize::testing

/// Declares `tok` as the encoding's tokenizer, or skips the test with the command that fetches it.
#define SY_REQUIRE_RANKS(tok, encoding)                                                             \
  const auto tok = ::sy::tokenize::testing::rank_file_tokenizer(encoding);                         \
  if (!(tok)) {                                                                                     \
    GTEST_SKIP() << "rank file " << ::sy::tokenize::to_string(encoding) << ".tiktoken not found in " \
                 << ::sy::tokenize::default_models_dir() << "; run scripts/fetch-tokenizers.sh";    \
  }
