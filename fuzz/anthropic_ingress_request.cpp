// Target: Anthropic-Messages ingress request translation, anthropic_ingress::to_openai_request, followed
// by what the server does next with a translated body (Request::parse for chat and its accessors).
// Input: an Anthropic Messages request body.
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/providers/anthropic_ingress.hpp"

namespace ingress = sy::providers::anthropic_ingress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  auto out = ingress::to_openai_request(in);
  if (!out) {
    (void)ingress::to_anthropic_error(out.error());
    (void)ingress::anthropic_error_event(out.error());
    return 0;
  }
  auto req = sy::Request::parse(sy::Endpoint::chat, *out);
  if (!req) {
    (void)ingress::to_anthropic_error(req.error());
    return 0;
  }
  const sy::Request& r = **req;
  (void)r.messages();
  (void)r.all_text();
  (void)r.last_user_text();
  (void)r.has_images();
  (void)r.forward_body("upstream-model");
  return 0;
}
