#include "providers/bedrock/event_stream.hpp"

#include <array>

namespace sy::providers::eventstream {
namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

std::uint32_t read_u32(std::string_view s, size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

std::uint16_t read_u16(std::string_view s, size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at]) << 8 | static_cast<unsigned char>(s[at + 1]));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

Error framing_error(std::string message) {
  return Error::make(ErrorKind::connection, "malformed event stream from upstream: " + std::move(message));
}

// Parses the headers block; false when a header runs past the end or has an unknown type.
bool parse_headers(std::string_view h, Message& m) {
  size_t p = 0;
  while (p < h.size()) {
    size_t name_len = static_cast<unsigned char>(h[p++]);
    if (p + name_len + 1 > h.size()) return false;
    std::string_view name = h.substr(p, name_len);
    p += name_len;
    auto type = static_cast<unsigned char>(h[p++]);
    size_t fixed = 0;
    switch (type) {
      case 0: case 1: fixed = 0; break;  // bool true / false
      case 2: fixed = 1; break;          // byte
      case 3: fixed = 2; break;          // short
      case 4: fixed = 4; break;          // int
      case 5: case 8: fixed = 8; break;  // long, timestamp
      case 9: fixed = 16; break;         // uuid
      case 6: case 7: {                  // bytes, string
        if (p + 2 > h.size()) return false;
        size_t len = read_u16(h, p);
        p += 2;
        if (p + len > h.size()) return false;
        if (type == 7) m.headers.emplace_back(std::string(name), std::string(h.substr(p, len)));
        p += len;
        continue;
      }
      default: return false;
    }
    if (p + fixed > h.size()) return false;
    p += fixed;
  }
  return true;
}

}  // namespace

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  crc = ~crc;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string_view Message::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::string encode(const Message& message) {
  std::string headers;
  for (const auto& [k, v] : message.headers) {
    headers.push_back(static_cast<char>(k.size()));
    headers.append(k);
    headers.push_back(7);
    headers.push_back(static_cast<char>((v.size() >> 8) & 0xFF));
    headers.push_back(static_cast<char>(v.size() & 0xFF));
    headers.append(v);
  }
  std::string out;
  auto total = static_cast<std::uint32_t>(12 + headers.size() + message.payload.size() + 4);
  put_u32(out, total);
  put_u32(out, static_cast<std::uint32_t>(headers.size()));
  put_u32(out, crc32(out));
  out.append(headers);
  out.append(message.payload);
  put_u32(out, crc32(out));
  return out;
}

Status Decoder::feed(std::string_view bytes, std::vector<Message>& out) {
  if (failed_) return framing_error("the stream already failed");
  buf_.append(bytes);
  size_t at = 0;
  std::string_view b = buf_;
  while (b.size() - at >= 12) {
    std::uint32_t total = read_u32(b, at);
    std::uint32_t headers_len = read_u32(b, at + 4);
    if (crc32(b.substr(at, 8)) != read_u32(b, at + 8)) {
      failed_ = true;
      return framing_error("prelude CRC mismatch");
    }
    if (total < 16 || total > kMaxMessage || headers_len > total - 16) {
      failed_ = true;
      return framing_error("impossible message length " + std::to_string(total));
    }
    if (b.size() - at < total) break;
    std::string_view msg = b.substr(at, total);
    if (crc32(msg.substr(0, total - 4)) != read_u32(msg, total - 4)) {
      failed_ = true;
      return framing_error("message CRC mismatch");
    }
    Message m;
    if (!parse_headers(msg.substr(12, headers_len), m)) {
      failed_ = true;
      return framing_error("malformed headers");
    }
    m.payload.assign(msg.substr(12 + headers_len, total - 16 - headers_len));
    out.push_back(std::move(m));
    at += total;
  }
  buf_.erase(0, at);
  return ok_status();
}

}  // namespace sy::providers::eventstream
