#pragma once
// Helpers shared by the fuzz targets (fuzz/README.md): input framing, chunk splitting, and a check that
// aborts with a message (so libFuzzer records a broken invariant as a crash with a reproducer).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace sy::fuzz {

/// A broken invariant: print what and where, then abort (libFuzzer saves the input as crash-*).
[[noreturn]] inline void fail(const char* what, const char* file, int line, std::string_view detail = {}) {
  std::fprintf(stderr, "\n==FUZZ INVARIANT== %s:%d: %s\n", file, line, what);
  if (!detail.empty()) std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(std::min<size_t>(detail.size(), 2000)), detail.data());
  std::abort();
}
#define SY_FUZZ_CHECK(cond, detail)                                \
  do {                                                             \
    if (!(cond)) ::sy::fuzz::fail(#cond, __FILE__, __LINE__, (detail)); \
  } while (0)

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Takes the first byte of the input as a control byte (0 when the input is empty).
inline std::uint8_t take_byte(std::string_view& in) {
  if (in.empty()) return 0;
  auto b = static_cast<std::uint8_t>(in.front());
  in.remove_prefix(1);
  return b;
}

/// Chunk boundaries chosen by one fuzzer byte: 0 feeds everything at once; otherwise the low 3 bits pick
/// a maximum chunk size (1, 2, 3, 7, 16, 64, 256, 4096 bytes) and the byte seeds a small LCG that draws
/// each chunk's size in [1, max]. The same byte always gives the same split, so crashes reproduce.
inline std::vector<std::string_view> split(std::string_view data, std::uint8_t seed) {
  std::vector<std::string_view> out;
  if (seed == 0 || data.empty()) {
    out.push_back(data);
    return out;
  }
  static constexpr std::size_t kMax[] = {1, 2, 3, 7, 16, 64, 256, 4096};
  std::size_t max = kMax[seed & 7];
  std::uint32_t state = 0x9E3779B9u ^ seed;
  while (!data.empty()) {
    state = state * 1664525u + 1013904223u;
    std::size_t n = 1 + (state >> 8) % max;
    n = std::min(n, data.size());
    out.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return out;
}

/// Splits `in` at NUL bytes into at most `parts` pieces (the last piece keeps any further NULs).
inline std::vector<std::string_view> split_nul(std::string_view in, std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    std::size_t z = in.find('\0');
    if (z == std::string_view::npos) break;
    out.push_back(in.substr(0, z));
    in.remove_prefix(z + 1);
  }
  out.push_back(in);
  while (out.size() < parts) out.emplace_back();
  return out;
}

/// Replaces what differs between two runs over the same bytes: generated ids ("chatcmpl-...", "msg_...",
/// "req_...") and `"created":<seconds>`, so outputs of a whole feed and a split feed can be compared.
inline std::string normalise_volatile(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto is_id_char = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
  };
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, 10, "\"created\":") == 0) {
      out.append("\"created\":");
      i += 10;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      out.push_back('0');
      continue;
    }
    if (s.compare(i, 9, "chatcmpl-") == 0) {
      out.append("chatcmpl-ID");
      i += 9;
      while (i < s.size() && is_id_char(s[i])) ++i;
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace sy::fuzz
