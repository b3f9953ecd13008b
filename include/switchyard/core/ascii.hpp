#pragma once
/// ASCII case folding, for names and labels compared case-insensitively (bytes >= 0x80 are kept as they
/// are: UTF-8 text is never folded half-way).
#include <string>
#include <string_view>

namespace sy {

/// The "C" locale's character classes, inline: std::isalpha and the like are calls into libc (and
/// undefined for negative chars), made per byte of a prompt by the feature and answer checks.
inline bool ascii_digit(char c) { return c >= '0' && c <= '9'; }
inline bool ascii_alpha(char c) { return static_cast<unsigned char>((static_cast<unsigned char>(c) | 32) - 'a') < 26; }
inline bool ascii_alnum(char c) { return ascii_alpha(c) || ascii_digit(c); }
inline bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace sy
