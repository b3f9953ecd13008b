#pragma once
/// A validating single-pass JSON scanner that records where things are instead of building a tree.
///
/// The proxy's hot path only needs a few top-level fields of a request (`model`, `stream`, ...) and must
/// forward everything else byte for byte. Scanning validates the whole document (RFC 8259, depth-limited)
/// and returns spans into the caller's buffer; `splice_fields` rewrites single fields without
/// re-serialising the rest. All functions are pure and thread-safe; spans borrow the input buffer.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::json {

enum class Type : std::uint8_t { object, array, string, number, boolean, null };
std::string_view type_name(Type t);

/// One member of a scanned object. `key` is the raw key text between the quotes (escapes kept);
/// `value` the raw JSON text of the value.
struct Field {
  std::string_view key;
  std::string_view value;
  Type type;
};

/// The members of one object, in document order.
struct Object {
  std::vector<Field> fields;
  /// The last member with this key (JSON parsers conventionally keep the last duplicate).
  const Field* find(std::string_view key) const;
};

/// Validates `text` as one JSON document whose root is an object and returns its top-level members.
/// Errors are bad_request with the byte offset of the problem.
Result<Object> scan_object(std::string_view text);
/// Validates `text` as a JSON array and returns each element's raw text and type.
Result<std::vector<Field>> scan_array(std::string_view text);
/// Validates `text` as any single JSON value.
Result<Type> validate(std::string_view text);

/// Decodes a raw JSON string token (with its quotes) into UTF-8. nullopt when not a valid string.
std::optional<std::string> string_value(std::string_view raw);
/// Appends the decoded text of a raw string token to `out`; false when invalid.
bool append_string_value(std::string_view raw, std::string& out);
/// Encodes `s` as a JSON string token, quotes included.
std::string quote(std::string_view s);
/// Parses a raw number token as double / int64. nullopt when not a number (or not integral).
std::optional<double> number_value(std::string_view raw);
std::optional<std::int64_t> integer_value(std::string_view raw);

/// One change to a top-level member: replace its value, remove it (value = nullopt), or append it when
/// the key is absent.
struct Edit {
  std::string_view key;
  std::optional<std::string> value;  ///< raw JSON text of the new value; nullopt removes the member
};

/// Returns `body` with the edits applied; untouched members keep their exact bytes and order.
/// `scanned` must come from `scan_object(body)`.
std::string splice(std::string_view body, const Object& scanned, const std::vector<Edit>& edits);

}  // namespace sy::json
