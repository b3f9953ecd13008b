// Fuzz target: the model files a config names — the learned router's (.sylm), the cascade's answer
// scorer (.syas) and the semantic stage's head — read from bytes. They are usually our own output, but
// a config may name any file, and a truncated or corrupted one must be a clear load error, never a
// crash: first byte % 3 picks the reader, the rest is the file. Whatever loads is also used once
// (score / predict), so sizes that parse but do not fit together are caught where they would be used.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "switchyard/learn/answer_scorer.hpp"
#include "switchyard/learn/learned_model.hpp"

using namespace sy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = fuzz::as_view(data, size);
  if (in.empty()) return 0;
  const std::uint8_t which = fuzz::take_byte(in) % 3;
  if (which == 0) {
    auto m = learn::LearnedModel::from_bytes(in);
    if (m) {
      const double s = (*m)->score("Prove that the sum of two even numbers is even.");
      SY_FUZZ_CHECK(s == s, "a loaded model scores a number");
    }
  } else if (which == 1) {
    auto a = learn::AnswerScorer::from_bytes(in);
    if (a) (void)(*a)->score("What is 2 + 2?", "2 + 2 = 4. The answer is 4.");
  } else {
    auto h = embed::SemanticHead::parse(in);
    if (h) {
      static auto hashing = embed::HashingEmbedder::create({}, {});
      SY_FUZZ_CHECK(hashing.ok(), "the hashing embedder");
      const embed::HeadPrediction p = (*h)->predict((*hashing)->embed("fix this bug in my python function"));
      SY_FUZZ_CHECK(p.probabilities.empty() || p.best < p.probabilities.size(), "the best route is a route");
    }
  }
  return 0;
}
