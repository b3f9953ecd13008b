// The JSON guard against its frozen former self (json_scan_reference.inc) on generated documents and
// their mutations: the same verdicts, the same error messages and codes (offsets included), the same
// members, elements and flags, and find() agreeing with a key-by-key search.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/json_scan_reference.inc"

namespace sy::json {
namespace {

// Documents from a grammar with small alphabets, so that collisions (repeated keys, keys equal after
// unescaping, the expanded member, cache_control) and every token kind come up often.
class Generator {
 public:
  explicit Generator(std::uint32_t seed) : rng_(seed) {}

  std::string document() {
    std::string out;
    ws(out);
    object(out, 0);
    ws(out);
    return out;
  }

  // The document with a few bytes inserted, removed, replaced or the tail cut.
  std::string mutate(std::string doc) {
    static const char kBytes[] = "{}[]\":,\\ \t\n0-1.eE+tfnu\x01\x7f\xc3\xa9\xed\xa0\x80\xff";
    int edits = 1 + pick(3);
    for (int i = 0; i < edits && !doc.empty(); ++i) {
      size_t at = pick(doc.size());
      char b = kBytes[pick(sizeof kBytes - 1)];
      switch (pick(4)) {
        case 0: doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), b); break;
        case 1: doc.erase(at, 1); break;
        case 2: doc[at] = b; break;
        default: doc.resize(at); break;
      }
    }
    return doc;
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  void ws(std::string& out) {
    static const char* kWs[] = {"", "", "", "", " ", "\n  ", "\t", "\r\n"};
    out += kWs[pick(8)];
  }

  void key(std::string& out) {
    static const char* kKeys[] = {"model", "mod\\u0065l", "messages", "m", "\\u006d", "cache_control",
                                  "cache\\u005fcontrol", "content", "role", "a", "b", "", "k1", "k2", "k3",
                                  "max_tokens", "temperature", "usage", "caf\xc3\xa9", "x\\ny", "top_p", "n"};
    out += '"';
    out += kKeys[pick(sizeof kKeys / sizeof *kKeys)];
    out += '"';
  }

  void object(std::string& out, int depth) {
    out += '{';
    ws(out);
    // Now and then wider than the objects whose keys are compared as they come (16).
    size_t members = pick(4) == 0 ? 10 + pick(20) : pick(5);
    for (size_t i = 0; i < members; ++i) {
      if (i) out += ',';
      ws(out);
      if (members > 8 && pick(3) != 0) {
        out += "\"w" + std::to_string(pick(40)) + '"';
      } else {
        key(out);
      }
      ws(out);
      out += ':';
      ws(out);
      value(out, depth + 1);
      ws(out);
    }
    out += '}';
  }

  void array(std::string& out, int depth) {
    out += '[';
    ws(out);
    size_t n = pick(5);
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ',';
      ws(out);
      value(out, depth + 1);
      ws(out);
    }
    out += ']';
  }

  void value(std::string& out, int depth) {
    static const char* kScalars[] = {"0", "-0", "12", "-3.25", "1e9", "2E-3", "1.5e+7", "1700000000", "true",
                                     "false", "null", "\"\"", "\"text\"", "\"a \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
                                     "\"\\u00e9\\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
                                     "\"The quick brown fox jumps over the lazy dog, twice: the quick brown fox.\""};
    size_t kind = depth > 6 ? 2 + pick(3) : pick(5);
    if (kind == 0) {
      object(out, depth);
    } else if (kind == 1) {
      array(out, depth);
    } else {
      out += kScalars[pick(sizeof kScalars / sizeof *kScalars)];
    }
  }

  std::mt19937 rng_;
};

void expect_same_fields(const std::vector<Field>& got, const std::vector<Field>& want, const std::string& doc) {
  ASSERT_EQ(got.size(), want.size()) << doc;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key) << doc;
    EXPECT_EQ(got[i].raw_key.data(), want[i].raw_key.data()) << doc;
    EXPECT_EQ(got[i].raw_key.size(), want[i].raw_key.size()) << doc;
    EXPECT_EQ(got[i].value.data(), want[i].value.data()) << doc;
    EXPECT_EQ(got[i].value.size(), want[i].value.size()) << doc;
    EXPECT_EQ(got[i].type, want[i].type) << doc;
  }
}

template <class T>
void expect_same_verdict(const Result<T>& got, const Result<T>& want, const std::string& doc) {
  ASSERT_EQ(got.ok(), want.ok()) << doc;
  if (!got.ok()) {
    EXPECT_EQ(got.error().message, want.error().message) << doc;
    EXPECT_EQ(got.error().code, want.error().code) << doc;
  }
}

void compare(const std::string& doc, const Limits& limits) {
  for (std::string_view expand : {std::string_view{}, std::string_view{"messages"}}) {
    auto got = scan_object(doc, limits, expand);
    auto want = reference::reference_scan_object(doc, limits, expand);
    expect_same_verdict(got, want, doc);
    if (!got.ok() || !want.ok()) continue;
    expect_same_fields(got->fields, want->fields, doc);
    expect_same_fields(got->elements, want->elements, doc);
    EXPECT_EQ(got->saw_cache_control, want->saw_cache_control) << doc;
    for (std::string_view k : {"model", "messages", "m", "cache_control", "", "usage", "top_p", "n", "w7", "zz"}) {
      const Field* by_key = nullptr;
      for (const auto& f : got->fields) by_key = by_key ? by_key : (f.key == k ? &f : nullptr);
      EXPECT_EQ(got->find(k), by_key) << doc << " find " << k;
    }
    for (const auto& f : got->fields) EXPECT_EQ(got->find(f.key), &f) << doc;
  }
  auto arr = scan_array(doc, limits);
  expect_same_verdict(arr, reference::reference_scan_array(doc, limits), doc);
  auto type = validate(doc, limits);
  auto want_type = reference::reference_validate(doc, limits);
  expect_same_verdict(type, want_type, doc);
  if (type.ok() && want_type.ok()) {
    EXPECT_EQ(*type, *want_type) << doc;
  }
}

// How often each verdict of scan_object came up, so that the comparison is known to cover them all.
std::map<std::string, int> verdicts(const std::vector<std::string>& docs, const Limits& limits) {
  std::map<std::string, int> seen;
  for (const auto& doc : docs) {
    auto r = scan_object(doc, limits);
    ++seen[r.ok() ? "ok" : r.error().code];
  }
  return seen;
}

TEST(JsonScanDifferentialTest, AgreesWithTheFormerScannerOnGeneratedDocuments) {
  Generator gen(20261207);
  const Limits shallow{4, 1 << 20};
  std::vector<std::string> docs, mutated;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = gen.document();
    compare(doc, Limits{});
    compare(doc, shallow);
    for (int m = 0; m < 4; ++m) {
      mutated.push_back(gen.mutate(doc));
      compare(mutated.back(), Limits{});
    }
    // The same document twice inside an array.
    compare("[" + doc + "," + doc + "]", shallow);
    docs.push_back(std::move(doc));
  }
  auto whole = verdicts(docs, shallow);
  EXPECT_GT(whole["ok"], 300);
  EXPECT_GT(whole["duplicate_key"], 300);
  EXPECT_GT(whole["json_too_deep"], 100);
  auto broken = verdicts(mutated, Limits{});
  EXPECT_GT(broken["invalid_json"], 1000);
  EXPECT_GT(broken["invalid_utf8"], 100);
}

TEST(JsonScanDifferentialTest, AgreesOnEveryPrefixOfARequest) {
  const std::string body =
      R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":"Say hello \u00e9 in one sentence."}],"max_tokens":64,"temperature":0.2,)"
      R"("stop":["\n",null],"n":-1.5e-3,"stream":false})";
  for (size_t n = 0; n <= body.size(); ++n) compare(body.substr(0, n), Limits{});
}

}  // namespace
}  // namespace sy::json
