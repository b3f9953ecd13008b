// Target: the JSON scanner (src/core/json_scan.cpp): scan_object, scan_array, validate, string_value,
// number_value / integer_value, quote, and splice with fuzzer-chosen edits.
// Input: one control byte (which edits splice applies), then the document.
// Invariants: a member of a valid object is itself a valid value of the reported type; string tokens
// decode, and quote() of the decoded text decodes back to it; splice() of a valid object with valid
// values is a valid object holding exactly the expected members.
#include <cstdint>
#include <map>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/core/json_scan.hpp"

namespace json = sy::json;

namespace {

void check_string_round_trip(std::string_view raw) {
  auto s = json::string_value(raw);
  if (!s) return;
  std::string appended;
  SY_FUZZ_CHECK(json::append_string_value(raw, appended) && appended == *s, raw);
  std::string q = json::quote(*s);
  auto back = json::string_value(q);
  SY_FUZZ_CHECK(back && *back == *s, q);
  SY_FUZZ_CHECK(json::validate(q).ok(), q);
}

void check_splice(std::string_view doc, const json::Object& obj, std::uint8_t control) {
  // Edits with distinct keys: remove / replace existing members, and maybe append a new one.
  std::vector<json::Edit> edits;
  std::map<std::string, std::string> expected;  // key -> raw value after the edits
  std::vector<std::string> order_keys;
  for (const auto& f : obj.fields) expected[std::string(f.key)] = std::string(f.value);
  std::vector<std::string> keys;
  for (const auto& f : obj.fields) keys.emplace_back(f.key);
  for (size_t i = 0; i < obj.fields.size() && i < 16; ++i) {
    const auto& f = obj.fields[i];
    int action = (control >> ((i % 3) * 2)) & 3;
    bool already = false;
    for (const auto& e : edits) already = already || e.key == f.key;
    if (already) continue;
    if (action == 1) {
      edits.push_back({f.key, std::nullopt});
      expected.erase(std::string(f.key));
    } else if (action == 2) {
      // Another member's value (a valid JSON value), or a quoted key.
      std::string v = std::string(obj.fields[(i + 1) % obj.fields.size()].value);
      edits.push_back({f.key, v});
      expected[std::string(f.key)] = v;
    } else if (action == 3) {
      std::string v = json::quote(f.key);
      edits.push_back({f.key, v});
      expected[std::string(f.key)] = v;
    }
  }
  static const std::string kNewKeys[] = {"model", "stream_options", "new\"key\\\n", "", "\xc3\xa9t\xc3\xa9"};
  if (control & 0x80) {
    const std::string& k = kNewKeys[(control >> 4) % 5];
    bool already = false;
    for (const auto& e : edits) already = already || e.key == k;
    if (!already) {
      std::string v = R"({"include_usage":true,"a":[1,2.5e3,null,"\u00e9"]})";
      edits.push_back({k, v});
      expected[k] = v;
    }
  }
  std::string out = json::splice(doc, obj, edits);
  // The borrowing form writes the same bytes, in pieces.
  SY_FUZZ_CHECK(json::splice_borrowing(doc, obj, edits).str() == out, out);
  auto re = json::scan_object(out);
  SY_FUZZ_CHECK(re.ok(), out);
  std::map<std::string, std::string> got;
  for (const auto& f : re->fields) got[std::string(f.key)] = std::string(f.value);
  SY_FUZZ_CHECK(got == expected, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  std::uint8_t control = sy::fuzz::take_byte(in);

  auto type = json::validate(in);
  auto arr = json::scan_array(in);
  auto obj = json::scan_object(in);
  check_string_round_trip(in);
  (void)json::number_value(in);
  // integer_value is only ever given tokens the scanner classified as numbers (int_member and friends).
  if (type.ok() && *type == json::Type::number) (void)json::integer_value(in);

  // The three entry points agree on what is valid.
  if (obj) SY_FUZZ_CHECK(type.ok() && *type == json::Type::object, in);
  if (arr) SY_FUZZ_CHECK(type.ok() && *type == json::Type::array, in);
  if (type.ok() && *type == json::Type::object) SY_FUZZ_CHECK(obj.ok(), in);
  if (type.ok() && *type == json::Type::array) SY_FUZZ_CHECK(arr.ok(), in);

  if (arr) {
    for (const auto& e : *arr) {
      auto t = json::validate(e.value);
      SY_FUZZ_CHECK(t.ok() && *t == e.type, e.value);
      if (e.type == json::Type::string) SY_FUZZ_CHECK(json::string_value(e.value).has_value(), e.value);
      if (e.type == json::Type::number) (void)json::integer_value(e.value);
    }
  }
  if (obj) {
    for (const auto& f : obj->fields) {
      auto t = json::validate(f.value);
      SY_FUZZ_CHECK(t.ok() && *t == f.type, f.value);
      if (f.type == json::Type::string) check_string_round_trip(f.value);
      if (f.type == json::Type::number) (void)json::integer_value(f.value);
      const auto* found = obj->find(f.key);
      SY_FUZZ_CHECK(found && found->value.data() == f.value.data(), f.key);
    }
    check_splice(in, *obj, control);
  }
  return 0;
}
