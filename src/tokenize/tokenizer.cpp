#include "switchyard/tokenize/tokenizer.hpp"

#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tokenize/bpe.hpp"
#include "tokenize/pretokenize.hpp"
#include "tokenize/rank_table.hpp"

namespace sy::tokenize {

using detail::RankTable;

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::o200k_base: return "o200k_base";
    case Encoding::cl100k_base: return "cl100k_base";
  }
  return "unknown";
}

std::optional<Encoding> encoding_from_name(std::string_view name) {
  for (Encoding e : {Encoding::o200k_base, Encoding::cl100k_base}) {
    if (name == to_string(e)) return e;
  }
  return std::nullopt;
}

std::filesystem::path default_models_dir() {
  if (const char* dir = std::getenv("SWITCHYARD_MODELS"); dir != nullptr && *dir != '\0') return dir;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "switchyard" / "models";
  }
  return "models";
}

struct Tokenizer::Impl {
  Encoding encoding = Encoding::o200k_base;
  RankTable ranks;
  std::size_t (*next_piece)(std::string_view, std::size_t) = nullptr;

  // Calls `on_token(rank)` for each token of `text`; the piece loop shared by count and encode.
  template <class OnToken>
  void tokenize(std::string_view text, OnToken&& on_token) const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = next_piece(text, pos);
      const unsigned char* piece = bytes + pos;
      const std::size_t len = end - pos;
      pos = end;
      // Most pieces (common words with their leading space) are a token by themselves.
      if (const std::uint32_t whole = ranks.find(piece, len); whole != RankTable::kNone) {
        on_token(whole, piece, 0, len);
        continue;
      }
      detail::byte_pair_merge(ranks, piece, len, [&](std::uint32_t b, std::uint32_t e) {
        on_token(RankTable::kNone, piece, b, e);
      });
    }
  }
};

namespace {

constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kBase64 = make_base64_table();

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = kBase64[static_cast<unsigned char>(in[i])];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return false;
  }
  return in.size() % 4 == 0;
}

// Ranks index a dense array; real encodings stay far below this.
constexpr std::uint64_t kMaxRank = 1u << 24;

Error load_error(std::string message) { return Error::make(ErrorKind::unavailable, std::move(message)); }

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_tiktoken(Encoding encoding, std::string_view contents) {
  auto impl = std::make_unique<Impl>();
  impl->encoding = encoding;
  impl->next_piece =
      encoding == Encoding::o200k_base ? &detail::next_piece_o200k : &detail::next_piece_cl100k;
  std::string bytes;
  std::size_t line_no = 0;
  while (!contents.empty()) {
    ++line_no;
    const std::size_t nl = contents.find('\n');
    std::string_view line = contents.substr(0, nl);
    contents = nl == std::string_view::npos ? std::string_view{} : contents.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    const auto bad = [&](std::string_view why) {
      return load_error(std::string(to_string(encoding)) + ": line " + std::to_string(line_no) + ": " +
                        std::string(why));
    };
    if (sp == std::string_view::npos) return bad("expected '<base64> <rank>'");
    std::uint64_t rank = 0;
    const std::string_view digits = line.substr(sp + 1);
    if (digits.empty() || digits.size() > 8) return bad("bad rank");
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return bad("bad rank");
      rank = rank * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (rank >= kMaxRank) return bad("rank too large");
    if (!base64_decode(line.substr(0, sp), bytes) || bytes.empty()) return bad("bad base64 token");
    if (!impl->ranks.add(bytes, static_cast<std::uint32_t>(rank))) return bad("duplicate rank");
  }
  if (const std::uint32_t dup = impl->ranks.finish(); dup != RankTable::kNone) {
    return load_error(std::string(to_string(encoding)) + ": token bytes of rank " + std::to_string(dup) +
                      " appear twice");
  }
  // Every byte must be a token by itself, or BPE could leave bytes it cannot name.
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<unsigned char>(b);
    if (impl->ranks.find(&byte, 1) == RankTable::kNone) {
      return load_error(std::string(to_string(encoding)) + ": byte " + std::to_string(b) + " has no rank");
    }
  }
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(Encoding encoding, const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / (std::string(to_string(encoding)) + ".tiktoken");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return load_error("cannot read " + file.string() + " (run scripts/fetch-tokenizers.sh)");
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof()) return load_error("error reading " + file.string());
  auto result = from_tiktoken(encoding, buf.str());
  if (!result) result.error().message = file.string() + ": " + result.error().message;
  return result;
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(std::string_view encoding_name,
                                                         const std::filesystem::path& dir) {
  const std::optional<Encoding> encoding = encoding_from_name(encoding_name);
  if (!encoding) {
    return Error::bad_request("unknown encoding '" + std::string(encoding_name) +
                              "' (known: o200k_base, cl100k_base)");
  }
  return load(*encoding, dir);
}

Encoding Tokenizer::encoding() const { return impl_->encoding; }
std::size_t Tokenizer::vocab_size() const { return impl_->ranks.size(); }

std::size_t Tokenizer::count(std::string_view text) const {
  std::size_t n = 0;
  impl_->tokenize(text, [&](std::uint32_t, const unsigned char*, std::uint32_t, std::uint32_t) { ++n; });
  return n;
}

void Tokenizer::encode(std::string_view text, std::vector<std::uint32_t>& out) const {
  const RankTable& ranks = impl_->ranks;
  impl_->tokenize(text, [&](std::uint32_t rank, const unsigned char* piece, std::uint32_t b, std::uint32_t e) {
    out.push_back(rank != RankTable::kNone ? rank : ranks.find(piece + b, e - b));
  });
}

std::vector<std::uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<std::uint32_t> out;
  out.reserve(text.size() / 3 + 1);
  encode(text, out);
  return out;
}

std::string Tokenizer::decode(std::span<const std::uint32_t> tokens) const {
  std::string out;
  for (std::uint32_t t : tokens) out.append(impl_->ranks.bytes_of(t));
  return out;
}

}  // namespace sy::tokenize
