// Target: the HTTP transport's upstream response parser (src/providers/http/response_reader.hpp, Beast's
// basic_parser underneath), fed as the transport feeds it: the head first (body bytes left buffered, as
// async_read_header leaves them), then the buffered bytes with a sink, piece by piece as they "arrive".
// Input: one split byte (fuzz_common.hpp), then the bytes an upstream sends.
// Invariants: unless a feed fails, any split completes the head exactly when the whole input does, and
// then gives the same status, headers, body and state; the body is never longer than the input.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "providers/http/response_reader.hpp"

namespace {

namespace http = boost::beast::http;

struct Outcome {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool header_done = false, done = false, failed = false;
  bool operator==(const Outcome&) const = default;
};

Outcome read(const std::vector<std::string_view>& pieces) {
  Outcome o;
  sy::providers::ResponseHead head;
  sy::providers::ResponseReader parser(head);
  parser.body_limit(boost::none);
  parser.header_limit(64 * 1024);
  boost::beast::flat_buffer buffer;
  for (auto piece : pieces) {
    auto into = buffer.prepare(piece.size());
    boost::asio::buffer_copy(into, boost::asio::buffer(piece.data(), piece.size()));
    buffer.commit(piece.size());
    // What the transport does with the bytes at hand: the head without a sink, then the body with one.
    for (;;) {
      boost::beast::error_code ec;
      if (!parser.is_header_done()) {
        parser.eager(false);
        buffer.consume(parser.put(buffer.data(), ec));
        if (ec == http::error::need_more) break;
        if (ec) { o.failed = true; break; }
        continue;
      }
      if (parser.is_done() || buffer.size() == 0) break;
      parser.sink(&o.body);
      const std::size_t taken = parser.put(buffer.data(), ec);
      parser.sink(nullptr);
      buffer.consume(taken);
      if (ec == http::error::need_more) break;
      if (ec) { o.failed = true; break; }
      if (taken == 0) break;
    }
    if (o.failed) break;
  }
  o.status = head.status;
  for (const auto& h : head.headers) o.headers.emplace_back(h.name, h.value);
  o.header_done = parser.is_header_done();
  o.done = parser.is_done();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t seed = sy::fuzz::take_byte(in);
  Outcome whole = read({in});
  Outcome split = read(sy::fuzz::split(in, seed ? seed : 1));
  SY_FUZZ_CHECK(whole.body.size() <= in.size(), in);
  if (whole.done) SY_FUZZ_CHECK(whole.header_done, in);
  // A parse that failed may fail at a different point when the bytes come in pieces (Beast reports some
  // errors only once a line is complete); one that did not fail must come out the same whatever the split,
  // once the head is complete (before that, how much of the status line Beast reported varies, and the
  // transport looks at nothing until the whole head is in).
  if (!whole.failed && !split.failed) {
    SY_FUZZ_CHECK(split.header_done == whole.header_done, in);
    if (whole.header_done) SY_FUZZ_CHECK(split == whole, in);
  }
  return 0;
}
