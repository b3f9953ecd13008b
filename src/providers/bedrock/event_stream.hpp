#pragma once
/// AWS event-stream framing (application/vnd.amazon.eventstream), as used by Bedrock ConverseStream:
///
///   [total length u32][headers length u32][prelude CRC u32][headers][payload][message CRC u32]
///
/// big-endian, the prelude CRC over the first 8 bytes and the message CRC over everything before it.
/// A header is [name length u8][name][value type u8][value]; strings (type 7) carry a u16 length.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::providers::eventstream {

/// CRC-32 as in zlib and IEEE 802.3 (reflected polynomial 0xEDB88320), continuing from `crc`.
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

struct Message {
  /// String-valued headers (the only kind AWS sends for events); headers of other types are skipped.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
  /// The value of a header, empty when absent.
  std::string_view header(std::string_view name) const;
};

/// One encoded message with string headers. Used by tests and fake upstreams.
std::string encode(const Message& message);

/// Splits a byte stream into messages, verifying both CRCs. One per stream, used from one coroutine.
class Decoder {
 public:
  /// Bounds one message (AWS caps event-stream messages at 16 MiB).
  static constexpr std::uint32_t kMaxMessage = 16u << 20;
  /// Appends `bytes` and moves every complete message into `out`. An error (bad CRC, impossible lengths)
  /// leaves the decoder failed: the stream cannot be resynchronised.
  Status feed(std::string_view bytes, std::vector<Message>& out);
  /// Bytes of an incomplete message are buffered.
  bool has_partial() const { return !buf_.empty(); }

 private:
  std::string buf_;
  bool failed_ = false;
};

}  // namespace sy::providers::eventstream
