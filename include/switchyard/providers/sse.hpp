#pragma once
/// Incremental Server-Sent Events parser (WHATWG rules: LF, CRLF or CR line ends; `data:` lines joined
/// with "\n"; comment lines ignored; an event ends at a blank line). Bytes may arrive split anywhere.
#include <string>
#include <string_view>

namespace sy::providers {

class SseParser {
 public:
  /// Feeds bytes; calls `on_event(std::string_view event, std::string_view data)` for each complete
  /// event that carried data. The views are valid only during the call. Returns false (and drops what
  /// it held) once an unfinished event grows beyond `max_event_bytes`: a peer that never ends a line
  /// or an event cannot make it buffer without bound.
  template <class F>
  bool feed(std::string_view bytes, F&& on_event, std::size_t max_event_bytes = kDefaultMaxEvent) {
    if (overflowed_) return false;
    buf_.append(bytes);
    size_t start = 0;
    for (;;) {
      size_t eol = buf_.find_first_of("\r\n", start);
      if (eol == std::string::npos) break;
      size_t next = eol + 1;
      if (buf_[eol] == '\r') {
        if (next == buf_.size()) break;  // wait: it may be CRLF
        if (buf_[next] == '\n') ++next;
      }
      line(std::string_view(buf_).substr(start, eol - start), on_event);
      start = next;
    }
    buf_.erase(0, start);
    if (buf_.size() + data_.size() > max_event_bytes) {
      overflowed_ = true;
      buf_.clear();
      data_.clear();
      return false;
    }
    return true;
  }
  static constexpr std::size_t kDefaultMaxEvent = 64u << 20;
  /// Bytes received after the last complete line.
  bool has_partial() const { return !buf_.empty() || !data_.empty(); }

 private:
  template <class F>
  void line(std::string_view l, F& on_event) {
    if (l.empty()) {
      if (has_data_) on_event(std::string_view(event_), std::string_view(data_));
      event_.clear();
      data_.clear();
      has_data_ = false;
      return;
    }
    if (l.front() == ':') return;
    size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value);
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value);
    }
  }

  std::string buf_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool overflowed_ = false;
};

}  // namespace sy::providers
