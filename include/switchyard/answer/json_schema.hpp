#pragma once
/// A small JSON Schema validator for the answers a cascade judges: JSON requested through
/// `response_format` and tool-call arguments checked against the tool's `parameters` schema.
///
/// Supported keywords (the subset tool schemas use): `type` (a name or a list of names: object, array,
/// string, number, integer, boolean, null), `properties`, `required`, `additionalProperties` (boolean or
/// schema), `items` (one schema), `enum`, `const`, `minimum`, `maximum`, `minLength`, `maxLength`,
/// `minItems`, `maxItems`, `anyOf`. Other keywords (`description`, `title`, `default`, `format`, `$schema`,
/// ...) are ignored, so a schema written for a fuller validator is accepted and checked by this subset.
///
/// A `JsonSchema` is compiled once (at config load) and then immutable: `validate` is `const` and safe to
/// call from any number of threads. Copies share the compiled tree.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::answer {

class JsonSchema {
 public:
  /// Compiles a schema document. Errors (bad_request) name the JSON path of the offending keyword.
  static Result<JsonSchema> parse(std::string_view schema_json);

  /// Violations of `instance_json` against the schema, at most `max_errors`, each as
  /// "$.path.to[2].field: what is wrong". Empty when the instance is valid. Text that is not JSON gives
  /// one violation ("$: not valid JSON").
  std::vector<std::string> validate(std::string_view instance_json, std::size_t max_errors = 8) const;
  /// validate(...).empty(), stopping at the first violation.
  bool accepts(std::string_view instance_json) const { return validate(instance_json, 1).empty(); }

  struct Node;  ///< compiled schema node (defined in the .cpp)

 private:
  explicit JsonSchema(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

/// nlohmann::json::accept: whether `text` is one complete JSON value (whitespace around it allowed).
bool is_valid_json(std::string_view text);

}  // namespace sy::answer
