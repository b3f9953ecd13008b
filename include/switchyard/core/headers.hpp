#pragma once
/// HTTP header lists as plain values (no Beast types), shared by providers and limits.
#include <string>
#include <string_view>
#include <vector>

namespace sy {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

/// Case-insensitive lookup; empty when absent.
std::string_view find_header(const Headers& headers, std::string_view name);
bool iequals(std::string_view a, std::string_view b);

}  // namespace sy
