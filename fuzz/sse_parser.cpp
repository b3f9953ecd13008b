// Target: the incremental SSE parser (include/switchyard/providers/sse.hpp), fed in fuzzer-chosen pieces.
// Input: one byte choosing the split (fuzz_common.hpp), then the bytes of the stream.
// Invariant (documented: "Bytes may arrive split anywhere"): any split yields the same events as feeding
// everything at once, and the same has_partial() at the end.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "switchyard/providers/sse.hpp"

namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

Events parse(const std::vector<std::string_view>& pieces, bool& partial) {
  Events ev;
  sy::providers::SseParser p;
  for (auto piece : pieces) {
    p.feed(piece, [&](std::string_view event, std::string_view data) { ev.emplace_back(event, data); });
  }
  partial = p.has_partial();
  // The decoders' finish(): a final event without its blank line still counts.
  p.feed("\n\n", [&](std::string_view event, std::string_view data) { ev.emplace_back(event, data); });
  return ev;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t seed = sy::fuzz::take_byte(in);
  bool partial_split = false, partial_whole = false;
  Events split = parse(sy::fuzz::split(in, seed ? seed : 1), partial_split);
  Events whole = parse({in}, partial_whole);
  SY_FUZZ_CHECK(split == whole, in);
  SY_FUZZ_CHECK(partial_split == partial_whole, in);
  return 0;
}
