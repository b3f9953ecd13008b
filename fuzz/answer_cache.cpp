// Fuzz target: a router's answer cache under a hostile sequence of stores and lookups — texts from the
// input (client-controlled in production), a tiny entry bound, two scopes, time moving forward. Checks:
// no crash or memory error (eviction once erased a context's list while a store still held it), the
// bound holds, and a lookup of the text just stored hits exactly.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/pipeline/answer_cache.hpp"

using namespace sy;

namespace {

std::shared_ptr<pipeline::AnswerCache> make_cache() {
  config::Diagnostics d;
  static auto cfg = config::load_config_text(
      "providers: [{name: m, type: mock}]\nmodels: [{name: a, provider: m}]\n"
      "routers: [{name: r, default: a, cache: {similarity: 0.5, ttl: 2s, max_entries: 3}}]\n",
      "fuzz.yaml", d);
  return pipeline::AnswerCache::from_yaml(*cfg->routers[0].node.get("cache"), "r", false, nullptr, d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto cache = make_cache();
  SY_FUZZ_CHECK(cache != nullptr, "the cache config");
  std::string_view in = fuzz::as_view(data, size);
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1000);
  // Operations: a control byte (bit 0 scope, bit 1 a system prompt, bits 2-6 time passing, bit 7 store),
  // then a NUL-terminated text (the last may run to the end).
  while (!in.empty()) {
    const std::uint8_t op = fuzz::take_byte(in);
    const std::size_t nul = in.find('\0');
    const std::string_view text = in.substr(0, nul);
    in.remove_prefix(nul == std::string_view::npos ? in.size() : nul + 1);
    const std::string_view scope = (op & 1) ? "alice" : "bob";
    const std::string system = (op & 2) ? R"({"role":"system","content":"s"},)" : "";
    auto req = Request::parse(Endpoint::chat, R"({"model":"r","messages":[)" + system + R"({"role":"user","content":)" +
                                                  json::quote(text) + "}]}");
    if (!req) continue;  // text that is not UTF-8: such a request never reaches a router
    auto probe = cache->probe(**req, scope);
    if (!probe) continue;
    now += std::chrono::milliseconds(((op >> 2) & 0x1f) * 80);  // bits 2-6: up to 2.5 s, entries expire
    if (op & 0x80) {
      cache->store(*probe, std::string(text), "a", now);
      auto hit = cache->lookup(*probe, now);
      SY_FUZZ_CHECK(hit && hit->exact, std::string(text));
    } else {
      (void)cache->lookup(*probe, now);
    }
    SY_FUZZ_CHECK(cache->size() <= 3, std::to_string(cache->size()));
  }
  return 0;
}
