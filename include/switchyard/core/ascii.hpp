#pragma once
/// ASCII case folding, for names and labels compared case-insensitively (bytes >= 0x80 are kept as they
/// are: UTF-8 text is never folded half-way).
#include <string>
#include <string_view>

namespace sy {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace sy
