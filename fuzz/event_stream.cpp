// Target: the AWS event-stream framer used by Bedrock ConverseStream (src/providers/bedrock/
// event_stream.hpp): eventstream::Decoder fed in fuzzer-chosen pieces.
// Input: a flags byte, a byte choosing the split (fuzz_common.hpp), then the stream bytes. Flag bit 0
// rewrites both CRCs of every frame the bytes describe (fix_crcs), so the fuzzer gets past the checksums
// and reaches the length and header parsing; without it the CRC checks themselves are fuzzed.
// Invariants: the split does not change the messages or the failure; every decoded message re-encodes
// (encode) to bytes that decode to the same message.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_event_stream.hpp"
#include "providers/bedrock/event_stream.hpp"

namespace es = sy::providers::eventstream;

namespace {

struct Run {
  std::vector<es::Message> messages;
  bool failed = false;
  bool partial = false;
};

bool same(const es::Message& a, const es::Message& b) { return a.headers == b.headers && a.payload == b.payload; }

Run decode(const std::vector<std::string_view>& pieces) {
  Run r;
  es::Decoder d;
  for (auto p : pieces) {
    if (!d.feed(p, r.messages)) {
      r.failed = true;
      // Once failed, the decoder refuses everything.
      std::vector<es::Message> more;
      SY_FUZZ_CHECK(!d.feed("x", more) && more.empty(), "a failed decoder accepted more bytes");
      return r;
    }
  }
  r.partial = d.has_partial();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t flags = sy::fuzz::take_byte(in);
  std::uint8_t seed = sy::fuzz::take_byte(in);
  std::string bytes(in);
  if (flags & 1) sy::fuzz::fix_crcs(bytes);

  Run whole = decode({bytes});
  Run split = decode(sy::fuzz::split(bytes, seed ? seed : 1));
  SY_FUZZ_CHECK(whole.failed == split.failed, bytes);
  SY_FUZZ_CHECK(whole.partial == split.partial, bytes);
  SY_FUZZ_CHECK(whole.messages.size() == split.messages.size(), bytes);
  for (size_t i = 0; i < whole.messages.size(); ++i) SY_FUZZ_CHECK(same(whole.messages[i], split.messages[i]), bytes);

  for (const auto& m : whole.messages) {
    (void)m.header(":event-type");
    std::string enc = es::encode(m);
    es::Decoder d;
    std::vector<es::Message> back;
    SY_FUZZ_CHECK(d.feed(enc, back).ok() && back.size() == 1 && same(back[0], m) && !d.has_partial(), enc);
  }
  return 0;
}
