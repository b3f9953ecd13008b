// Fuzz target: an answer as the answer cache reads it back from Redis (AnswerCache::decode). Redis is
// shared by every replica and reachable by whoever reaches it, so its bytes are input like a client's.
// Checks: no crash or memory error on any bytes, and whatever decodes survives encode -> decode unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/pipeline/answer_cache.hpp"

using namespace sy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto a = pipeline::AnswerCache::decode(fuzz::as_view(data, size));
  if (!a) return 0;
  auto again = pipeline::AnswerCache::decode(pipeline::AnswerCache::encode(*a));
  SY_FUZZ_CHECK(again.has_value(), "an encoded answer decodes");
  SY_FUZZ_CHECK(again->text == a->text && again->guard == a->guard && again->body == a->body && again->model == a->model &&
                    again->expires_unix_ms == a->expires_unix_ms,
                "the round trip keeps every field");
  return 0;
}
