#include "switchyard/embed/unigram_tokenizer.hpp"

#include <algorithm>
#include <unordered_map>

namespace sy::embed {
namespace {

// Byte trie over the pieces: one hash lookup per input byte, a walk stops at the first miss.
class PieceTrie {
 public:
  void insert(std::string_view piece, std::int32_t id) {
    std::uint32_t node = 0;
    for (unsigned char c : piece) {
      const std::uint64_t key = (static_cast<std::uint64_t>(node) << 8) | c;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        ids_.push_back(-1);
        it = edges_.emplace(key, static_cast<std::uint32_t>(ids_.size() - 1)).first;
      }
      node = it->second;
    }
    ids_[node] = id;  // a later duplicate wins, as in the reference trie
  }
  // Calls fn(end_byte, id) for every piece that is a prefix of text[start..].
  template <class Fn>
  void prefixes(std::string_view text, std::size_t start, Fn&& fn) const {
    std::uint32_t node = 0;
    for (std::size_t i = start; i < text.size(); ++i) {
      auto it = edges_.find((static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
      if (it == edges_.end()) return;
      node = it->second;
      if (ids_[node] >= 0) fn(i + 1, ids_[node]);
    }
  }
  std::size_t memory_bytes() const { return edges_.size() * 32 + ids_.capacity() * 4; }

 private:
  std::unordered_map<std::uint64_t, std::uint32_t> edges_;
  std::vector<std::int32_t> ids_ = {-1};  // node 0 = root
};

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;  // stray continuation or invalid byte: a symbol of its own
}

std::size_t codepoints(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); i += std::min(utf8_length(static_cast<unsigned char>(s[i])), s.size() - i)) ++n;
  return n;
}

constexpr std::string_view kSep = "\xe2\x96\x81";  // U+2581 "▁"

// NFKC replacement for the compatibility characters common in prompts; nullptr when c is kept.
const char* compat(std::uint32_t c) {
  static const char* const kFullwidth[] = {
      "!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", "0", "1", "2", "3", "4", "5", "6",
      "7", "8", "9", ":", ";", "<", "=", ">", "?", "@", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L",
      "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "[", "\\", "]", "^", "_", "`", "a", "b",
      "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x",
      "y", "z", "{", "|", "}", "~"};
  static const char* const kCircled[] = {"1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10",
                                         "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"};
  static const char* const kLigatures[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
  if (c == 0x00a0 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f || c == 0x3000) return " ";
  if (c >= 0xff01 && c <= 0xff5e) return kFullwidth[c - 0xff01];
  if (c >= 0x2460 && c <= 0x2473) return kCircled[c - 0x2460];
  if (c >= 0xfb00 && c <= 0xfb06) return kLigatures[c - 0xfb00];
  switch (c) {
    case 0x00b2: return "2";
    case 0x00b3: return "3";
    case 0x00b9: return "1";
    case 0x2024: return ".";
    case 0x2025: return "..";
    case 0x2026: return "...";
    case 0x2122: return "TM";
    default: return nullptr;
  }
}

struct Match {
  std::uint32_t len;  // in symbols
  std::int32_t id;
};

struct Scratch {
  std::string text;
  std::vector<std::uint32_t> sym_start;
  std::vector<std::int32_t> sym_of_byte;
  std::vector<std::vector<Match>> matches;
  std::vector<double> best;
  std::vector<std::int32_t> words;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

struct UnigramTokenizer::Impl {
  PieceTrie trie;
  std::vector<double> scores;                // per id
  std::vector<std::uint32_t> piece_symbols;  // per id, length in code points (>= 1)
  std::size_t max_piece_symbols = 1;
};

UnigramTokenizer::UnigramTokenizer(const std::vector<std::pair<std::string, double>>& pieces, std::size_t reserved)
    : impl_(std::make_unique<Impl>()) {
  impl_->scores.resize(std::max<std::size_t>(1, pieces.size()), 0.0);
  impl_->piece_symbols.resize(impl_->scores.size(), 1);
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    const auto& [piece, score] = pieces[id];
    impl_->scores[id] = score;
    // The reference steps back by the piece's own length; for id 0 that is USE-lite's one-character
    // "\ufffd", i.e. one unknown symbol, whatever the id-0 piece of another vocabulary looks like.
    impl_->piece_symbols[id] =
        id == 0 ? 1u : static_cast<std::uint32_t>(std::max<std::size_t>(1, codepoints(piece)));
    if (id >= reserved && id > 0 && !piece.empty()) {
      impl_->trie.insert(piece, static_cast<std::int32_t>(id));
      impl_->max_piece_symbols = std::max<std::size_t>(impl_->max_piece_symbols, impl_->piece_symbols[id]);
    }
  }
}

UnigramTokenizer::~UnigramTokenizer() = default;
UnigramTokenizer::UnigramTokenizer(UnigramTokenizer&&) noexcept = default;
UnigramTokenizer& UnigramTokenizer::operator=(UnigramTokenizer&&) noexcept = default;

std::size_t UnigramTokenizer::size() const { return impl_->scores.size(); }

std::size_t UnigramTokenizer::memory_bytes() const {
  return sizeof(Impl) + impl_->trie.memory_bytes() + impl_->scores.capacity() * 8 + impl_->piece_symbols.capacity() * 4;
}

std::vector<std::int32_t> UnigramTokenizer::encode(std::string_view raw, std::size_t max_tokens) const {
  const Impl& m = *impl_;
  if (raw.empty()) return {};
  Scratch& s = scratch();
  // The reference applies NFKC first. For ASCII that is the identity; otherwise map the common
  // compatibility characters (no-break and typographic spaces, fullwidth ASCII, ligatures, circled
  // and superscript digits, ellipsis, TM). Composition of decomposed accents is not done.
  std::string normalized;
  if (std::any_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    normalized.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size();) {
      const unsigned char lead = static_cast<unsigned char>(raw[i]);
      const std::size_t len = std::min(utf8_length(lead), raw.size() - i);
      std::uint32_t c = lead;
      if (len == 2) c = ((lead & 0x1fu) << 6) | (raw[i + 1] & 0x3fu);
      else if (len == 3) c = ((lead & 0x0fu) << 12) | ((raw[i + 1] & 0x3fu) << 6) | (raw[i + 2] & 0x3fu);
      else if (len == 4) c = ((lead & 0x07u) << 18) | ((raw[i + 1] & 0x3fu) << 12) | ((raw[i + 2] & 0x3fu) << 6) | (raw[i + 3] & 0x3fu);
      if (const char* rep = len > 1 ? compat(c) : nullptr) normalized.append(rep);
      else normalized.append(raw.substr(i, len));
      i += len;
    }
    raw = normalized;
  }
  // A token boundary falls before every "▁" (no piece has one inside), so the ids of a prefix that
  // ends before a space do not depend on what follows; each segment yields at least one id.
  std::size_t cut = raw.size();
  if (max_tokens > 0) {
    for (std::size_t i = 0, spaces = 0; i < raw.size(); ++i)
      if (raw[i] == ' ' && ++spaces == max_tokens) {
        cut = i;
        break;
      }
  }
  std::string& text = s.text;
  text.clear();
  text.append(kSep);
  for (std::size_t i = 0; i < cut; ++i) {
    if (raw[i] == ' ') text.append(kSep);
    else text.push_back(raw[i]);
  }

  // Symbols are code points; sym_of_byte maps a byte offset that starts a symbol to its index.
  s.sym_start.clear();
  s.sym_of_byte.assign(text.size() + 1, -1);
  for (std::size_t i = 0; i < text.size();) {
    s.sym_of_byte[i] = static_cast<std::int32_t>(s.sym_start.size());
    s.sym_start.push_back(static_cast<std::uint32_t>(i));
    i += std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
  }
  const std::size_t n = s.sym_start.size();
  s.sym_of_byte[text.size()] = static_cast<std::int32_t>(n);

  // Pieces starting at each symbol; a symbol no piece starts with becomes one unknown (id 0, score 0).
  if (s.matches.size() < n) s.matches.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& list = s.matches[i];
    list.clear();
    m.trie.prefixes(text, s.sym_start[i], [&](std::size_t end_byte, std::int32_t id) {
      const std::int32_t end_sym = s.sym_of_byte[end_byte];
      if (end_sym >= 0) list.push_back({static_cast<std::uint32_t>(end_sym - static_cast<std::int32_t>(i)), id});
    });
    if (list.empty()) list.push_back({1, 0});
  }

  // Viterbi in the reference's order: end positions ascending, candidates by ascending start.
  s.best.assign(n + 1, 0.0);
  s.words.assign(n + 1, 0);
  for (std::size_t end = 1; end <= n; ++end) {
    const std::size_t first = end > m.max_piece_symbols ? end - m.max_piece_symbols : 0;
    for (std::size_t start = first; start < end; ++start) {
      for (const Match& mt : s.matches[start]) {
        if (start + mt.len != end) continue;
        const double score = (mt.id == 0 ? 0.0 : m.scores[static_cast<std::size_t>(mt.id)]) + s.best[start];
        if (s.best[end] == 0.0 || score >= s.best[end]) {
          s.best[end] = score;
          s.words[end] = mt.id;
        }
      }
    }
  }
  // Backtrack by each chosen piece's own length, from the end.
  std::vector<std::int32_t> ids;
  bool prev_unknown = false;
  for (std::size_t it = n; it > 0;) {
    const std::int32_t id = s.words[it];
    if (!(prev_unknown && id == 0)) ids.push_back(id);  // runs of unknowns merge into one
    prev_unknown = id == 0;
    const std::size_t len = m.piece_symbols[static_cast<std::size_t>(id)];
    it = len >= it ? 0 : it - len;
  }
  std::reverse(ids.begin(), ids.end());
  return ids;
}

}  // namespace sy::embed
