#pragma once
/// Plain value types describing an upstream HTTP exchange. No Beast types: providers' wire formats
/// build and read these, transports carry them.
#include <string>
#include <string_view>
#include <vector>

namespace sy::providers {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

/// Case-insensitive lookup; empty when absent.
std::string_view find_header(const Headers& headers, std::string_view name);
bool iequals(std::string_view a, std::string_view b);

/// What to send upstream. Built by a WireFormat, sent by a Transport.
struct UpstreamRequest {
  std::string method = "POST";
  std::string target;  ///< path and query, e.g. "/v1/chat/completions"
  Headers headers;     ///< includes authentication; never logged
  std::string body;
};

/// Status line and headers of the upstream response.
struct ResponseHead {
  int status = 0;
  Headers headers;
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

}  // namespace sy::providers
