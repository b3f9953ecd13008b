// Target: the client request parser/validator, Request::parse, for each endpoint (chat, completions,
// embeddings), then every accessor the routers and wire formats use on a parsed request.
// Input: a request body as a client sends it. Invariant: the body forwarded upstream is a valid JSON
// object with `model` replaced and the `switchyard` extension removed.
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/request.hpp"

namespace {

void exercise(sy::Endpoint endpoint, std::string_view body) {
  auto parsed = sy::Request::parse(endpoint, std::string(body));
  if (!parsed) {
    (void)sy::to_openai_json(parsed.error());
    return;
  }
  const sy::Request& r = **parsed;
  (void)r.model();
  (void)r.stream();
  (void)r.client_wants_usage();
  (void)r.max_tokens();
  (void)r.payload();
  (void)r.has_tools();
  (void)r.response_format();
  (void)r.temperature();
  for (const auto& m : r.messages()) {
    (void)m.role.size();
    (void)m.text.size();
  }
  (void)r.last_user_text();
  (void)r.all_text();
  (void)r.has_images();

  std::string fwd = r.forward_body("upstream/model-\"x\"").str();
  auto obj = sy::json::scan_object(fwd);
  SY_FUZZ_CHECK(obj.ok(), fwd);
  const auto* model = obj->find("model");
  SY_FUZZ_CHECK(model && sy::json::string_value(model->value) == std::string("upstream/model-\"x\""), fwd);
  SY_FUZZ_CHECK(obj->find("switchyard") == nullptr, fwd);

  // With extra edits, as the OpenAI format adds stream_options.
  std::vector<sy::json::Edit> extra;
  extra.push_back({"stream_options", std::string(R"({"include_usage":true})")});
  extra.push_back({"n", std::nullopt});
  std::string fwd2 = r.forward_body("m", std::move(extra)).str();
  auto obj2 = sy::json::scan_object(fwd2);
  SY_FUZZ_CHECK(obj2.ok(), fwd2);
  SY_FUZZ_CHECK(obj2->find("n") == nullptr, fwd2);
  SY_FUZZ_CHECK(obj2->find("stream_options") != nullptr, fwd2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body = sy::fuzz::as_view(data, size);
  exercise(sy::Endpoint::chat, body);
  exercise(sy::Endpoint::completions, body);
  exercise(sy::Endpoint::embeddings, body);
  return 0;
}
