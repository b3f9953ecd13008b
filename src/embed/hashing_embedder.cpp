#include "switchyard/embed/hashing_embedder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace sy::embed {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

// Seeds keep the feature kinds apart inside one bucket space.
constexpr std::uint64_t kSeedWord = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kSeedBigram = 0xc2b2ae3d27d4eb4fULL;
constexpr std::uint64_t kSeedChar = 0x165667b19e3779f9ULL;

inline std::uint64_t fmix64(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

inline std::uint64_t fnv1a(const char* p, std::size_t n, std::uint64_t seed) {
  std::uint64_t h = kFnvOffset ^ seed;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= kFnvPrime;
  }
  return h;
}

inline bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

// Walks the features of `text`, calling word(hash, view) for unigrams, bigram(hash, prev, cur) for
// bigrams and chr(hash, view) for character n-grams. Lowercasing happens into `lower` (a reused buffer).
template <class Word, class Bigram, class Char>
void for_each_feature(std::string_view text, const HashingOptions& o, std::string& lower, std::string& padded,
                      Word&& word, Bigram&& bigram, Char&& chr) {
  lower.resize(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    lower[i] = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  std::uint64_t prev_hash = 0;
  std::string_view prev;
  std::size_t i = 0;
  const std::size_t n = lower.size();
  while (i < n) {
    while (i < n && !is_word_byte(static_cast<unsigned char>(lower[i]))) ++i;
    if (i >= n) break;
    const std::size_t start = i;
    while (i < n && is_word_byte(static_cast<unsigned char>(lower[i]))) ++i;
    const std::string_view w(lower.data() + start, i - start);

    const std::uint64_t wh = fnv1a(w.data(), w.size(), 0);
    word(fmix64(wh ^ kSeedWord), w);
    if (o.word_bigrams && !prev.empty()) bigram(fmix64(prev_hash * kSeedBigram + wh), prev, w);
    prev = w;
    prev_hash = wh;

    // char_wb: n-grams of " word ", never across words.
    padded.resize(w.size() + 2);
    padded[0] = ' ';
    std::memcpy(padded.data() + 1, w.data(), w.size());
    padded[w.size() + 1] = ' ';
    const std::size_t len = padded.size();
    // Windows of every length g in [char_min, char_max] with g < len, hashed incrementally from each
    // start (FNV-1a is sequential, so this equals hashing each window on its own). A padded word of
    // length <= char_max is also emitted once, whole — scikit-learn's rule for short words.
    const std::size_t gmax = std::min<std::size_t>(o.char_max, len - 1);
    if (gmax >= o.char_min) {
      for (std::size_t off = 0; off + o.char_min <= len; ++off) {
        std::uint64_t h = kFnvOffset ^ kSeedChar;
        const std::size_t jmax = std::min(gmax, len - off);
        for (std::size_t g = 1; g <= jmax; ++g) {
          h ^= static_cast<unsigned char>(padded[off + g - 1]);
          h *= kFnvPrime;
          if (g >= o.char_min) chr(fmix64(h), std::string_view(padded.data() + off, g));
        }
      }
    }
    if (len <= o.char_max) chr(fmix64(fnv1a(padded.data(), len, kSeedChar)), std::string_view(padded));
  }
}

// Per-thread term-frequency accumulator over the bucket space: a dense count array that is only
// touched where features land, plus the list of touched buckets so resetting is O(features).
struct Accumulator {
  std::vector<std::uint8_t> counts;  // saturates at 255: 1 + ln(255) already flattens tf
  std::vector<std::uint32_t> touched;  // first n entries are the buckets hit so far
  std::size_t n = 0;
  void ensure(std::size_t buckets) {
    if (counts.size() < buckets) counts.assign(buckets, 0);
  }
  // Called once per feature: keep it inline, with the rare growth out of line.
  __attribute__((always_inline)) void add(std::uint32_t b) {
    std::uint8_t& c = counts[b];
    if (c == 0) {
      if (n == touched.size()) grow();
      touched[n++] = b;
    }
    c = static_cast<std::uint8_t>(c + (c != 0xff));
  }
  __attribute__((noinline)) void grow() { touched.resize(std::max<std::size_t>(1024, 2 * touched.size())); }
  // Resets the counts of the touched buckets.
  void clear() {
    for (std::size_t i = 0; i < n; ++i) counts[touched[i]] = 0;
    n = 0;
  }
};

struct Scratch {
  std::string lower, padded;
  Accumulator word, chr;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// 1 + ln(tf) for small tf without calling log.
const std::array<float, 64>& sublinear_table() {
  static const std::array<float, 64> t = [] {
    std::array<float, 64> a{};
    for (std::size_t i = 1; i < a.size(); ++i) a[i] = 1.0f + std::log(static_cast<float>(i));
    return a;
  }();
  return t;
}

void emit(Accumulator& acc, const std::vector<float>& idf, bool sublinear, EmbeddingPart& out) {
  const auto& table = sublinear_table();
  out.indices.resize(acc.n);
  out.values.resize(acc.n);
  double ss = 0;
  for (std::size_t i = 0; i < acc.n; ++i) {
    const std::uint32_t b = acc.touched[i];
    const std::uint8_t tf = acc.counts[b];
    acc.counts[b] = 0;
    float w = !sublinear ? static_cast<float>(tf)
              : tf < table.size() ? table[tf]
                                  : 1.0f + std::log(static_cast<float>(tf));
    if (!idf.empty()) w *= idf[b];
    out.indices[i] = b;
    out.values[i] = w;
    ss += static_cast<double>(w) * w;
  }
  acc.n = 0;
  if (ss > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (float& v : out.values) v *= inv;
  }
}

}  // namespace

std::string HashingOptions::validate() const {
  if (bucket_bits < 10 || bucket_bits > 24) return "bucket_bits: must be in 10..24";
  if (char_min < 1 || char_min > 8) return "char_min: must be in 1..8";
  if (char_max < char_min || char_max > 8) return "char_max: must be in char_min..8";
  if (!(word_weight >= 0.0f && word_weight <= 1.0f)) return "word_weight: must be in [0, 1]";
  return {};
}

Result<std::shared_ptr<const HashingEmbedder>> HashingEmbedder::create(const HashingOptions& options,
                                                                       std::span<const std::string> corpus) {
  if (std::string err = options.validate(); !err.empty())
    return Error::make(ErrorKind::internal, "hashing embedder: " + err);
  return std::shared_ptr<const HashingEmbedder>(std::make_shared<HashingEmbedder>(options, corpus));
}

HashingEmbedder::HashingEmbedder(const HashingOptions& options, std::span<const std::string> corpus)
    : options_(options), mask_((1u << options.bucket_bits) - 1), corpus_size_(corpus.size()) {
  const std::uint32_t buckets = 1u << options_.bucket_bits;
  layout_ = {PartLayout{buckets, true, options_.word_weight, "word"},
             PartLayout{buckets, true, 1.0f - options_.word_weight, "char"}};
  if (!options_.use_idf) return;

  // Document frequencies: count each bucket once per document.
  std::vector<std::uint32_t> df_word(buckets, 0), df_char(buckets, 0);
  Scratch& s = scratch();
  s.word.ensure(buckets);
  s.chr.ensure(buckets);
  for (const std::string& doc : corpus) {
    for_each_feature(
        doc, options_, s.lower, s.padded, [&](std::uint64_t h, std::string_view) { s.word.add(h & mask_); },
        [&](std::uint64_t h, std::string_view, std::string_view) { s.word.add(h & mask_); },
        [&](std::uint64_t h, std::string_view) { s.chr.add(h & mask_); });
    for (std::size_t i = 0; i < s.word.n; ++i) ++df_word[s.word.touched[i]];
    for (std::size_t i = 0; i < s.chr.n; ++i) ++df_char[s.chr.touched[i]];
    s.word.clear();
    s.chr.clear();
  }
  // Smoothed IDF (as scikit-learn): ln((1 + N) / (1 + df)) + 1, so unseen features get the maximum.
  const double n1 = 1.0 + static_cast<double>(corpus.size());
  auto fit = [&](const std::vector<std::uint32_t>& df, std::vector<float>& idf) {
    idf.resize(buckets);
    for (std::uint32_t b = 0; b < buckets; ++b) idf[b] = static_cast<float>(std::log(n1 / (1.0 + df[b])) + 1.0);
  };
  fit(df_word, idf_word_);
  fit(df_char, idf_char_);
}

Embedding HashingEmbedder::embed(std::string_view text) const {
  Scratch& s = scratch();
  s.word.ensure(mask_ + 1ull);
  s.chr.ensure(mask_ + 1ull);
  for_each_feature(
      text, options_, s.lower, s.padded, [&](std::uint64_t h, std::string_view) { s.word.add(h & mask_); },
      [&](std::uint64_t h, std::string_view, std::string_view) { s.word.add(h & mask_); },
      [&](std::uint64_t h, std::string_view) { s.chr.add(h & mask_); });
  Embedding e;
  e.parts.resize(2);
  for (std::size_t i = 0; i < 2; ++i) {
    e.parts[i].dim = layout_[i].dim;
    e.parts[i].sparse = true;
    e.parts[i].weight = layout_[i].weight;
  }
  emit(s.word, idf_word_, options_.sublinear_tf, e.parts[0]);
  emit(s.chr, idf_char_, options_.sublinear_tf, e.parts[1]);
  return e;
}

std::size_t HashingEmbedder::memory_bytes() const {
  return sizeof(*this) + (idf_word_.capacity() + idf_char_.capacity()) * sizeof(float);
}

std::vector<std::string> HashingEmbedder::features(std::string_view text) const {
  std::vector<std::string> out;
  std::string lower, padded;
  for_each_feature(
      text, options_, lower, padded, [&](std::uint64_t, std::string_view w) { out.push_back("w:" + std::string(w)); },
      [&](std::uint64_t, std::string_view a, std::string_view b) {
        out.push_back("b:" + std::string(a) + " " + std::string(b));
      },
      [&](std::uint64_t, std::string_view g) { out.push_back("c:" + std::string(g)); });
  return out;
}

}  // namespace sy::embed
