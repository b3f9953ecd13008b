#pragma once
// The upstream HTTP/1.1 response parser of the HTTP transport, on its own so that the fuzz target
// (fuzz/upstream_http.cpp) drives exactly what the transport runs on an upstream's bytes.
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <string>

#include "switchyard/providers/http_types.hpp"

namespace sy::providers {

/// Parses an upstream response straight into what the exchange hands out: the head's fields into its
/// ResponseHead and the body's bytes onto the string a read is filling (`sink`). No field container and
/// no intermediate body buffer, as Beast's response_parser would need. Beast does the parsing (framing,
/// chunked coding, limits); this only stores what it reports.
class ResponseReader final : public boost::beast::http::basic_parser<false> {
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

 public:
  explicit ResponseReader(ResponseHead& head) : head_(head) {}
  /// Where body bytes go until the next call; null between reads (body bytes then stay buffered).
  void sink(std::string* out) { out_ = out; }

 private:
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { head_.status = code; }
  void on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) override {
    auto& h = head_.headers.emplace_back();  // built in place: no temporary strings to move
    h.name.assign(name.data(), name.size());
    h.value.assign(value.data(), value.size());
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override { return take(body, ec); }
  void on_finish_impl(error_code&) override {}

  std::size_t take(string_view body, error_code& ec) {
    if (!out_) {
      ec = boost::beast::http::error::need_buffer;
      return 0;
    }
    out_->append(body.data(), body.size());
    return body.size();
  }

  ResponseHead& head_;
  std::string* out_ = nullptr;
};

}  // namespace sy::providers
