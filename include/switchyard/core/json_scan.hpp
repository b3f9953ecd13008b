#pragma once
/// A validating single-pass JSON scanner that records where things are instead of building a tree.
///
/// The proxy's hot path only needs a few top-level fields of a request (`model`, `stream`, ...) and must
/// forward everything else byte for byte. Scanning validates the whole document and returns spans into
/// the caller's buffer; `splice` rewrites single fields without re-serialising the rest. All functions
/// are pure and thread-safe; spans borrow the input buffer.
///
/// This scanner is also the guard every JSON document passes before anything recursive touches it
/// (a tree parse, a dump, a schema walk): it checks size and nesting depth against `Limits` without
/// recursing deeper than the limit, and it is stricter than RFC 8259 where leniency would let two
/// readers disagree about one document — strings must be valid UTF-8 (no lone surrogate escapes) and
/// an object may not repeat a key, compared after unescaping (`"mod\u0065l"` is `"model"`).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/core/payload.hpp"

namespace sy::json {

enum class Type : std::uint8_t { object, array, string, number, boolean, null };
std::string_view type_name(Type t);

/// Bounds applied to every document before it is scanned. Configured by `server.max_json_depth` and the
/// body limits; the defaults are what a document gets when no configuration is at hand.
struct Limits {
  static constexpr int kDefaultMaxDepth = 128;
  int max_depth = kDefaultMaxDepth;    ///< arrays and objects nested deeper are refused
  std::size_t max_bytes = 64u << 20;   ///< larger documents are refused before scanning
};

/// One member of a scanned object. `key` is the key's decoded text (escapes resolved), `raw_key` the
/// bytes between its quotes in the document; `value` the raw JSON text of the value.
struct Field {
  std::string_view key;
  std::string_view value;
  Type type;
  std::string_view raw_key;
};

namespace detail {
/// A key's length and three of its bytes, which settle almost every comparison of two keys.
constexpr std::uint32_t key_tag(std::string_view k) {
  if (k.empty()) return 0;
  return static_cast<std::uint32_t>(k.size()) << 24 ^ static_cast<std::uint32_t>(static_cast<unsigned char>(k.front())) << 16 ^
         static_cast<std::uint32_t>(static_cast<unsigned char>(k[k.size() / 2])) << 8 ^
         static_cast<std::uint32_t>(static_cast<unsigned char>(k.back()));
}
/// One of 64 bits for a tag (its top bits after a multiplicative hash): the keys of an object as one
/// word, so that a key whose bit is clear is known to differ from all of them.
constexpr std::uint64_t tag_bit(std::uint32_t tag) { return std::uint64_t{1} << ((tag * 0x9E3779B1u) >> 26); }
}  // namespace detail

/// The members of one object, in document order; keys are unique.
struct Object {
  std::vector<Field> fields;
  /// The member named `key`, or nullptr. Most lookups are for members a document does not have (the
  /// optional fields of a request): a one-word filter of the scanned keys answers those without
  /// comparing a single key — inline, so that a literal key's bit is a constant.
  const Field* find(std::string_view key) const {
    if (key_bits_end_ == std::to_address(fields.end()) && !(key_bits_ & detail::tag_bit(detail::key_tag(key)))) return nullptr;
    return find_compared(key);
  }
  /// Decoded keys that differ from their raw text (rare: a key written with escapes).
  std::vector<std::unique_ptr<std::string>> decoded_keys;
  /// A `cache_control` key appears at some depth (a prompt-cache breakpoint that providers other than
  /// Anthropic's refuse): noted while scanning, so forwarding need not search the body for it.
  bool saw_cache_control = false;
  /// The elements of the member named by scan_object's `expand`, when that member is an array.
  std::vector<Field> elements;

 private:
  friend Result<Object> scan_object(std::string_view, const Limits&, std::string_view);
  const Field* find_compared(std::string_view key) const;
  // A bit per key (detail::tag_bit), valid while `fields` ends where it ended when scanned (a copy, or
  // members added later, are searched key by key); find() compares keys only when the bit of the one
  // it looks for is set.
  std::uint64_t key_bits_ = 0;
  const Field* key_bits_end_ = nullptr;
};

/// Validates `text` as one JSON document whose root is an object and returns its top-level members.
/// Errors are bad_request with the byte offset of the problem; a limit that is exceeded is named in
/// the message and in the code (`json_too_deep`, `json_too_large`, `duplicate_key`, `invalid_utf8`).
/// `expand` names one top-level member whose elements, when it is an array, are recorded in
/// `Object::elements` by the same pass (a request's `messages`, so they are not scanned twice).
Result<Object> scan_object(std::string_view text, const Limits& limits = {}, std::string_view expand = {});
/// Validates `text` as a JSON array and returns each element's raw text and type.
Result<std::vector<Field>> scan_array(std::string_view text, const Limits& limits = {});
/// Validates `text` as any single JSON value.
Result<Type> validate(std::string_view text, const Limits& limits = {});

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
/// The same, as a payload that borrows the untouched runs of `body` (which must outlive it) and owns
/// only the new text: for forwarding a large body without copying it.
Payload splice_borrowing(std::string_view body, const Object& scanned, const std::vector<Edit>& edits);

}  // namespace sy::json
