// Target: Anthropic-Messages ingress answer translation: to_anthropic_response (an OpenAI
// chat.completion body -> an Anthropic message) and to_anthropic_error (an OpenAI error body and its
// status -> an Anthropic error body), as the server calls them on upstream answers.
// Input: one control byte (the HTTP status for the error translation), then the OpenAI body.
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/providers/anthropic_ingress.hpp"

namespace ingress = sy::providers::anthropic_ingress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t control = sy::fuzz::take_byte(in);
  static constexpr int kStatus[] = {200, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529, 409, 451};
  auto msg = ingress::to_anthropic_response(in);
  if (!msg) (void)ingress::to_anthropic_error(msg.error());
  (void)ingress::to_anthropic_error(in, kStatus[control & 15]);
  // An Error carrying upstream text, as a stream error frame.
  sy::Error e = sy::Error::make(static_cast<sy::ErrorKind>(control % (static_cast<int>(sy::ErrorKind::internal) + 1)), std::string(in));
  e.status_override = (control & 0x80) ? kStatus[(control >> 3) & 15] : 0;
  (void)ingress::anthropic_error_event(e);
  return 0;
}
