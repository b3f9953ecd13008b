#pragma once
// The operator's endpoints: /metrics, /admin/* and the dashboard page at /ui.
#include <optional>
#include <string_view>

#include "server/session.hpp"

namespace sy::server {

/// The key a caller presents: `Authorization: Bearer <key>` (OpenAI SDKs, Prometheus) or `x-api-key`
/// (Anthropic's SDK).
std::string_view presented_key(const InboundRequest& call);

/// Paths only an admin may read: /admin/* and /metrics.
bool is_admin_path(std::string_view path);
/// Why this call may not use an admin path: 403 when the config has no admin keys (and does not opt
/// out with admin.open), 401 when the presented key is not one of them.
std::optional<Error> admin_refusal(const InboundRequest& call);

/// Serves /metrics, /admin/* or /ui when `path` is one of them (the caller is already admitted);
/// returns false, writing nothing, for any other path.
net::awaitable<bool> dispatch_admin(Session& s, InboundRequest& call, std::string_view path, std::string_view query);

}  // namespace sy::server
