#pragma once
/// The one way a JSON document becomes an nlohmann tree on the request path: through the scanner's
/// guard first (size, nesting depth, UTF-8, unique keys — see json_scan.hpp), so that nothing
/// recursive (dump, copy, comparison, a schema walk) ever sees a document deeper than the limit.
#include <nlohmann/json.hpp>

#include "switchyard/core/json_scan.hpp"

namespace sy::json {

/// Guards `text` with `limits`, then parses it. The error is the guard's (bad_request, with the
/// limit named); callers that read upstream bytes reclassify it as an upstream failure.
template <class Tree = nlohmann::ordered_json>
Result<Tree> parse_tree(std::string_view text, const Limits& limits = {}) {
  auto checked = validate(text, limits);
  if (!checked) return std::move(checked).error();
  Tree tree = Tree::parse(text, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) return Error::bad_request("The JSON document could not be parsed.", {}, "invalid_json");
  return tree;
}

}  // namespace sy::json
