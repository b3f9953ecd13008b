#pragma once
/// The one way a JSON document becomes an nlohmann tree on the request path: through the scanner's
/// guard first (size, nesting depth, UTF-8, unique keys — see json_scan.hpp), so that nothing
/// recursive (dump, copy, comparison, a schema walk) ever sees a document deeper than the limit.
#include <nlohmann/json.hpp>

#include "switchyard/core/json_scan.hpp"

namespace sy::json {

/// Top-level members of the object `text` whose number values overflow a double (for error messages).
std::vector<std::string_view> top_level_fields_out_of_range(std::string_view text);

/// Guards `text` with `limits`, then parses it. The error is the guard's (bad_request, with the
/// limit named); callers that read upstream bytes reclassify it as an upstream failure.
template <class Tree = nlohmann::ordered_json>
Result<Tree> parse_tree(std::string_view text, const Limits& limits = {}) {
  auto checked = validate(text, limits);
  if (!checked) return std::move(checked).error();
  Tree tree = Tree::parse(text, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) {
    // The guard accepted the syntax, so what the tree refuses is a number a double cannot hold.
    Error e = Error::bad_request("The JSON document holds a number out of range.", {}, "number_out_of_range");
    for (const auto& f : top_level_fields_out_of_range(text)) {
      e.param = std::string(f);
      e.message = "'" + e.param + "' is a number out of range.";
      break;
    }
    return e;
  }
  return tree;
}

/// Members of a parsed object read leniently: the member's value when it has the asked type, else
/// `fallback` (missing, another type) — never an exception, whatever the document holds. Integers are
/// JSON integers only (a float such as 1e300 does not convert).
template <class Tree>
std::string string_or(const Tree& j, const char* name, std::string fallback = {}) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->template get<std::string>() : fallback;
}
template <class Tree>
std::int64_t integer_or(const Tree& j, const char* name, std::int64_t fallback = 0) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->template get<std::int64_t>() : fallback;
}
template <class Tree>
double number_or(const Tree& j, const char* name, double fallback = 0) {
  auto it = j.find(name);
  return it != j.end() && it->is_number() ? it->template get<double>() : fallback;
}
template <class Tree>
bool bool_or(const Tree& j, const char* name, bool fallback = false) {
  auto it = j.find(name);
  return it != j.end() && it->is_boolean() ? it->template get<bool>() : fallback;
}

}  // namespace sy::json
