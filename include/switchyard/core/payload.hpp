#pragma once
/// A body to send, as pieces in order: views borrowed from a buffer that outlives the send (the client's
/// request body) and text of its own. Forwarding a request with its `model` replaced is then the client's
/// bytes around one new string, written with one gather write, instead of a copy of the whole body.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sy {

class Payload {
 public:
  Payload() = default;
  /// One piece of its own.
  Payload(std::string text) : own_(std::move(text)) {  // NOLINT: implicit, a body is often a string
    if (!own_.empty()) pieces_.push_back(Piece{nullptr, 0, own_.size()});
  }

  /// Appends a view of bytes the caller keeps alive (and unchanged) for as long as this payload is used.
  /// Bytes that continue the previous borrowed piece extend it.
  void borrow(std::string_view bytes) {
    if (bytes.empty()) return;
    if (!pieces_.empty() && pieces_.back().data && pieces_.back().data + pieces_.back().size == bytes.data()) {
      pieces_.back().size += bytes.size();
    } else {
      pieces_.push_back(Piece{bytes.data(), 0, bytes.size()});
    }
  }
  /// Appends a copy of `text`.
  void append(std::string_view text) {
    if (text.empty()) return;
    // Merged with the previous piece when that one is also its own and ends where this one starts.
    if (!pieces_.empty() && !pieces_.back().data && pieces_.back().offset + pieces_.back().size == own_.size()) {
      pieces_.back().size += text.size();
    } else {
      pieces_.push_back(Piece{nullptr, own_.size(), text.size()});
    }
    own_.append(text);
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& p : pieces_) n += p.size;
    return n;
  }
  bool empty() const { return pieces_.empty(); }
  std::size_t piece_count() const { return pieces_.size(); }
  /// The i-th piece (0 <= i < piece_count()).
  std::string_view piece(std::size_t i) const {
    const Piece& p = pieces_[i];
    return p.data ? std::string_view(p.data, p.size) : std::string_view(own_).substr(p.offset, p.size);
  }
  /// The whole body in one string (a copy): for signing, tests and the mock provider.
  std::string str() const {
    std::string out;
    out.reserve(size());
    for (std::size_t i = 0; i < pieces_.size(); ++i) out.append(piece(i));
    return out;
  }

 private:
  struct Piece {
    const char* data;  ///< borrowed bytes, or nullptr for own_[offset, offset + size)
    std::size_t offset;
    std::size_t size;
  };
  std::string own_;
  std::vector<Piece> pieces_;
};

}  // namespace sy
