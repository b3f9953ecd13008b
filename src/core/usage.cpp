#include <algorithm>

#include "switchyard/core/usage.hpp"

#include "switchyard/core/json_scan.hpp"

namespace sy {

bool parse_openai_usage(std::string_view raw, Usage& u) {
  auto obj = json::scan_object(raw);
  if (!obj) return false;
  bool any = false;
  // Counts from an upstream are bounded: negative or absurd numbers must not poison limits and costs.
  auto count = [](std::string_view raw) { return std::clamp<std::int64_t>(json::integer_value(raw).value_or(0), 0, kMaxTokenCount); };
  if (const auto* p = obj->find("prompt_tokens"); p && p->type == json::Type::number) {
    u.prompt_tokens = count(p->value);
    any = true;
  }
  if (const auto* c = obj->find("completion_tokens"); c && c->type == json::Type::number) {
    u.completion_tokens = count(c->value);
    any = true;
  }
  if (const auto* d = obj->find("prompt_tokens_details"); d && d->type == json::Type::object) {
    if (auto details = json::scan_object(d->value)) {
      if (const auto* ct = details->find("cached_tokens"); ct && ct->type == json::Type::number) {
        u.cached_tokens = std::min(count(ct->value), u.prompt_tokens);
      }
      if (const auto* cw = details->find("cache_write_tokens"); cw && cw->type == json::Type::number) {
        u.cache_write_tokens = std::min(count(cw->value), u.prompt_tokens - u.cached_tokens);
      }
    }
  }
  if (any) u.known = true;
  return any;
}

}  // namespace sy
