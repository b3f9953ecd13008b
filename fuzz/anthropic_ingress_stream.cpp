// Target: Anthropic-Messages ingress stream translation, anthropic_ingress::StreamTranslator: OpenAI
// chat.completion.chunk SSE bytes fed in fuzzer-chosen pieces, then finish().
// Input: one byte choosing the split (fuzz_common.hpp), then the OpenAI SSE bytes.
// Invariant: the split does not change the translation (ids and timestamps aside).
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/providers/anthropic_ingress.hpp"

namespace ingress = sy::providers::anthropic_ingress;

namespace {

struct Run {
  std::string out;
  bool failed = false;
  bool finished = false;
};

Run translate(const std::vector<std::string_view>& pieces) {
  Run r;
  ingress::StreamTranslator t("client-model");
  for (auto p : pieces) {
    auto st = t.feed(p, r.out);
    if (!st) {
      r.failed = true;
      (void)ingress::anthropic_error_event(st.error());
      return r;
    }
  }
  t.finish(r.out);
  r.finished = t.finished();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t seed = sy::fuzz::take_byte(in);
  Run split = translate(sy::fuzz::split(in, seed));
  if (seed == 0) return 0;
  Run whole = translate({in});
  SY_FUZZ_CHECK(split.failed == whole.failed, in);
  SY_FUZZ_CHECK(split.finished == whole.finished, in);
  SY_FUZZ_CHECK(sy::fuzz::normalise_volatile(split.out) == sy::fuzz::normalise_volatile(whole.out),
                split.out + "\n-- whole --\n" + whole.out);
  return 0;
}
