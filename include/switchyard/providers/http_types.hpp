#pragma once
/// Plain value types describing an upstream HTTP exchange. No Beast types: providers' wire formats
/// build and read these, transports carry them.
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/headers.hpp"
#include "switchyard/core/payload.hpp"

namespace sy::providers {

using sy::find_header;
using sy::Header;
using sy::Headers;
using sy::iequals;

/// What to send upstream. Built by a WireFormat, sent by a Transport.
struct UpstreamRequest {
  std::string method = "POST";
  std::string target;  ///< path and query, e.g. "/v1/chat/completions"
  Headers headers;     ///< includes authentication; never logged
  /// May borrow from the Request it was encoded from (the client's body around a replaced `model`):
  /// valid while that Request lives, which every transport call is within.
  Payload body;
};

/// Status line and headers of the upstream response.
struct ResponseHead {
  int status = 0;
  Headers headers;
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

}  // namespace sy::providers
