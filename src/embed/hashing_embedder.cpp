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

// The tokeniser's view of a byte, as tables (one load per byte instead of range tests): its ASCII
// lowercase, and whether that lowercase is a word byte ([a-z0-9] or >= 0x80, so UTF-8 words stay whole).
struct ByteTables {
  std::array<char, 256> lower{};
  std::array<bool, 256> word{};
};
constexpr ByteTables make_byte_tables() {
  ByteTables t;
  for (int c = 0; c < 256; ++c) {
    const int l = c >= 'A' && c <= 'Z' ? c + 32 : c;
    t.lower[c] = static_cast<char>(l);
    t.word[c] = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l >= 0x80;
  }
  return t;
}
constexpr ByteTables kBytes = make_byte_tables();

inline unsigned char byte_at(const char* p, std::size_t i) { return static_cast<unsigned char>(p[i]); }

// Calls chr(hash, view) for the character n-grams of one padded word " w " (`s`, `len` bytes): windows
// of every length g in [char_min, char_max] with g < len, hashed incrementally from each start (FNV-1a
// is sequential, so this equals hashing each window on its own). A padded word of length <= char_max
// is also emitted once, whole (scikit-learn's rule for short words). `Min` and `Max` are std::size_t,
// or compile-time constants for the default 3..5, whose loops the compiler then unrolls.
template <class Min, class Max, class Char>
inline void char_ngrams(const char* s, std::size_t len, Min char_min, Max char_max, Char& chr) {
  const std::size_t gmax = std::min<std::size_t>(char_max, len - 1);
  if (gmax >= char_min) {
    for (std::size_t off = 0; off + char_min <= len; ++off) {
      const std::size_t jmax = std::min(gmax, len - off);
      std::uint64_t h = kFnvOffset ^ kSeedChar;
      for (std::size_t g = 0; g + 1 < char_min; ++g) h = (h ^ byte_at(s, off + g)) * kFnvPrime;
      for (std::size_t g = char_min - 1; g < char_max; ++g) {
        if (g >= jmax) break;
        h = (h ^ byte_at(s, off + g)) * kFnvPrime;
        chr(fmix64(h), std::string_view(s + off, g + 1));
      }
    }
  }
  if (len <= char_max) chr(fmix64(fnv1a(s, len, kSeedChar)), std::string_view(s, len));
}

// The most features for_each_feature can report for a text of n bytes: at most n / 2 + 1 words, as
// many bigrams, and per word of w bytes at most (w + 2) windows of each of the k lengths plus the whole
// word. Lets the bucket lists be sized once per text instead of checked per feature.
std::size_t max_features(std::size_t n, const HashingOptions& o) {
  const std::size_t k = o.char_max - o.char_min + 1;
  return (2 * n + 2) * (k + 2) + 2;
}

// Walks the features of `text`, calling word(hash, view) for unigrams, bigram(hash, prev, cur) for
// bigrams and chr(hash, view) for character n-grams. The words are lowercased into `buf` (a reused
// buffer) as " w1 w2 ... wn ": each padded word " w " is a view of it (neighbours share a space), and
// earlier words stay valid for the bigram views.
template <class Word, class Bigram, class Char>
void for_each_feature(std::string_view text, const HashingOptions& o, std::string& buf, Word&& word, Bigram&& bigram,
                      Char&& chr) {
  // Words are separated by at least one byte, so the words plus one space each fit in n + 2 bytes.
  buf.resize(text.size() + 2);
  char* out = buf.data();
  out[0] = ' ';
  std::size_t at = 1;
  const std::size_t char_min = o.char_min, char_max = o.char_max;
  const bool bigrams = o.word_bigrams;
  const char* t = text.data();
  const std::size_t n = text.size();
  std::uint64_t prev_hash = 0;
  std::string_view prev;
  for (std::size_t i = 0;;) {
    while (i < n && !kBytes.word[byte_at(t, i)]) ++i;
    if (i >= n) break;
    const std::size_t start = at;
    std::uint64_t wh = kFnvOffset;  // fnv1a(word, seed 0), hashed while lowercasing
    for (; i < n && kBytes.word[byte_at(t, i)]; ++i) {
      const char c = kBytes.lower[byte_at(t, i)];
      out[at++] = c;
      wh = (wh ^ static_cast<unsigned char>(c)) * kFnvPrime;
    }
    out[at] = ' ';
    const std::string_view w(out + start, at - start);
    ++at;

    word(fmix64(wh ^ kSeedWord), w);
    if (bigrams && !prev.empty()) bigram(fmix64(prev_hash * kSeedBigram + wh), prev, w);
    prev = w;
    prev_hash = wh;
    // char_wb: n-grams of " word ", never across words.
    if (char_min == 3 && char_max == 5) {
      char_ngrams(out + start - 1, w.size() + 2, std::integral_constant<std::size_t, 3>{},
                  std::integral_constant<std::size_t, 5>{}, chr);
    } else {
      char_ngrams(out + start - 1, w.size() + 2, char_min, char_max, chr);
    }
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
  // Resets the counts of the touched buckets.
  void clear() {
    for (std::size_t i = 0; i < n; ++i) counts[touched[i]] = 0;
    n = 0;
  }
};

// Counts a list of buckets into the accumulator (the list's own loop: few live values, no aliasing
// with the feature walk that produced it).
void count(Accumulator& acc, const std::uint32_t* begin, const std::uint32_t* end) {
  const std::size_t need = acc.n + static_cast<std::size_t>(end - begin);
  if (acc.touched.size() < need) acc.touched.resize(need);
  std::uint8_t* counts = acc.counts.data();
  std::uint32_t* touched = acc.touched.data();
  std::size_t n = acc.n;
  for (const std::uint32_t* p = begin; p != end; ++p) {
    const std::uint32_t b = *p;
    const std::uint8_t c = counts[b];
    if (c == 0) touched[n++] = b;
    counts[b] = static_cast<std::uint8_t>(c + (c != 0xff));
  }
  acc.n = n;
}

struct Scratch {
  std::string buf;
  std::vector<std::uint32_t> word_buckets, char_buckets;  // of one text, in order
  Accumulator word, chr;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Counts the features of `text` into the word and char accumulators of `s` (sized for mask + 1 buckets):
// first the bucket of every feature, in order, then the counting.
void count_features(std::string_view text, const HashingOptions& o, std::uint32_t mask, Scratch& s) {
  const std::size_t most = max_features(text.size(), o);
  if (s.word_buckets.size() < most) s.word_buckets.resize(most);
  if (s.char_buckets.size() < most) s.char_buckets.resize(most);
  std::uint32_t* word_end = s.word_buckets.data();
  std::uint32_t* char_end = s.char_buckets.data();
  for_each_feature(
      text, o, s.buf, [&](std::uint64_t h, std::string_view) { *word_end++ = static_cast<std::uint32_t>(h) & mask; },
      [&](std::uint64_t h, std::string_view, std::string_view) { *word_end++ = static_cast<std::uint32_t>(h) & mask; },
      [&](std::uint64_t h, std::string_view) { *char_end++ = static_cast<std::uint32_t>(h) & mask; });
  count(s.word, s.word_buckets.data(), word_end);
  count(s.chr, s.char_buckets.data(), char_end);
}

// libm's logf, out of line: a table filled through it is filled at run time, with the values a logf call
// per feature gave. (A table of inline calls is folded at build time by the compiler's own, correctly
// rounded log, which can differ from libm's by an ulp.)
[[gnu::noinline]] float libm_log(float x) { return std::log(x); }

// TF weight by count: 1 + ln(tf) (sublinear) or tf itself, for every count an accumulator can hold.
struct TfWeights {
  std::array<float, 256> sublinear{}, linear{};
};
const TfWeights& tf_weights() {
  static const TfWeights t = [] {
    TfWeights w;
    for (std::size_t i = 1; i < w.sublinear.size(); ++i) {
      w.sublinear[i] = 1.0f + libm_log(static_cast<float>(i));
      w.linear[i] = static_cast<float>(i);
    }
    return w;
  }();
  return t;
}

// Moves the accumulated buckets into `out` (in first-seen order), weighted tf x idf and L2-normalised,
// and resets the accumulator.
void emit(Accumulator& acc, const std::vector<float>& idf, bool sublinear, EmbeddingPart& out) {
  const std::array<float, 256>& tf_weight = sublinear ? tf_weights().sublinear : tf_weights().linear;
  const std::size_t n = acc.n;
  const std::uint32_t* touched = acc.touched.data();
  std::uint8_t* counts = acc.counts.data();
  out.indices.assign(touched, touched + n);
  out.values.resize(n);
  float* values = out.values.data();
  const float* idf_b = idf.empty() ? nullptr : idf.data();
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t b = touched[i];
    float w = tf_weight[counts[b]];
    counts[b] = 0;
    if (idf_b != nullptr) w *= idf_b[b];
    values[i] = w;
    ss += static_cast<double>(w) * w;
  }
  acc.n = 0;
  if (ss > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (std::size_t i = 0; i < n; ++i) values[i] *= inv;
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
    count_features(doc, options_, mask_, s);
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
  count_features(text, options_, mask_, s);
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
  std::string buf;
  for_each_feature(
      text, options_, buf, [&](std::uint64_t, std::string_view w) { out.push_back("w:" + std::string(w)); },
      [&](std::uint64_t, std::string_view a, std::string_view b) {
        out.push_back("b:" + std::string(a) + " " + std::string(b));
      },
      [&](std::uint64_t, std::string_view g) { out.push_back("c:" + std::string(g)); });
  return out;
}

}  // namespace sy::embed
