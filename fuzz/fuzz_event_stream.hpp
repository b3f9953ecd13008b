#pragma once
// Rewrites the CRCs of AWS event-stream frames in place so fuzzed frames pass the checksum checks
// (used by the event_stream and bedrock_stream targets).
#include <cstdint>
#include <string>

#include "providers/bedrock/event_stream.hpp"

namespace sy::fuzz {

/// Walks `bytes` as consecutive frames ([total u32][headers u32][prelude CRC][...][message CRC]) and
/// sets each frame's prelude CRC, and its message CRC when the whole frame is present. Stops at the
/// first frame whose length is impossible (< 16) or runs past the end.
inline void fix_crcs(std::string& bytes) {
  auto rd = [&](size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
  };
  auto wr = [&](size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
  };
  size_t at = 0;
  while (bytes.size() - at >= 12) {
    wr(at + 8, providers::eventstream::crc32(std::string_view(bytes).substr(at, 8)));
    std::uint32_t total = rd(at);
    if (total < 16 || total > bytes.size() - at) return;
    wr(at + total - 4, providers::eventstream::crc32(std::string_view(bytes).substr(at, total - 4)));
    at += total;
  }
}

}  // namespace sy::fuzz
