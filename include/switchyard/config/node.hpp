#pragma once
/// A YAML document turned into a plain tree that remembers where every value came from.
///
/// Only the config module sees yaml-cpp; everything else (including stage factories in the pipeline,
/// which own their own YAML sections) reads a `Node`. Accessors record problems in a `Diagnostics`
/// list with the YAML path and line instead of throwing, so one run reports every mistake.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::config {

/// Problems found while validating, each "file:line: path: message".
class Diagnostics {
 public:
  void error(std::string_view path, int line, std::string_view message);
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  void set_file(std::string file) { file_ = std::move(file); }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

class Node {
 public:
  enum class Kind { null, scalar, sequence, map };

  Node() = default;
  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_scalar() const { return kind_ == Kind::scalar; }
  bool is_sequence() const { return kind_ == Kind::sequence; }
  bool is_map() const { return kind_ == Kind::map; }
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  const std::string& scalar() const { return scalar_; }
  const std::vector<Node>& items() const { return items_; }
  const std::vector<std::pair<std::string, Node>>& members() const { return members_; }

  /// The member `key` of a map, or nullptr.
  const Node* get(std::string_view key) const;
  /// Path a child would have (for messages about missing keys).
  std::string child_path(std::string_view key) const;

  // Typed reads. On a type mismatch they record an error and return nullopt / the fallback.
  std::optional<std::string> str(std::string_view key, Diagnostics& d, bool required = false) const;
  std::optional<std::int64_t> integer(std::string_view key, Diagnostics& d, std::int64_t min, std::int64_t max,
                                      bool required = false) const;
  std::optional<double> number(std::string_view key, Diagnostics& d, double min, double max, bool required = false) const;
  std::optional<bool> boolean(std::string_view key, Diagnostics& d) const;
  /// A duration: a number of milliseconds, or a string with unit ("250ms", "5s", "2m", "1h").
  std::optional<std::int64_t> duration_ms(std::string_view key, Diagnostics& d) const;
  /// A size: bytes, or "4MiB", "16KiB", "1MB".
  std::optional<std::int64_t> bytes(std::string_view key, Diagnostics& d) const;
  /// A list of strings (a single string is accepted as a list of one).
  std::optional<std::vector<std::string>> str_list(std::string_view key, Diagnostics& d) const;

  /// Records an error for every key of this map not in `allowed`, suggesting the nearest allowed key.
  void check_keys(std::initializer_list<std::string_view> allowed, Diagnostics& d) const;
  void check_keys(const std::vector<std::string_view>& allowed, Diagnostics& d) const;
  /// Records an error at this node.
  void error(Diagnostics& d, std::string_view message) const { d.error(path_, line_, message); }

  // Construction (used by the YAML loader and by tests).
  static Node make_scalar(std::string value, std::string path, int line);
  static Node make_sequence(std::vector<Node> items, std::string path, int line);
  static Node make_map(std::vector<std::pair<std::string, Node>> members, std::string path, int line);
  static Node make_null(std::string path, int line);

 private:
  Kind kind_ = Kind::null;
  std::string scalar_;
  std::vector<Node> items_;
  std::vector<std::pair<std::string, Node>> members_;
  std::string path_;
  int line_ = 0;
};

/// Parses YAML text into a Node tree; `${VAR}` and `${VAR:-default}` in scalars are replaced from the
/// environment (a missing variable without default is an error naming it, never printing values).
/// YAML syntax errors are diagnostics with the line.
/// Largest config text accepted.
inline constexpr std::size_t kMaxConfigBytes = 16u << 20;
/// Parses YAML into a Node tree. Bounded: at most kMaxConfigBytes of text, 64 levels of nesting and a
/// million values after aliases are expanded; beyond that it is a config error, never a crash.
Node parse_yaml(std::string_view text, Diagnostics& d);

/// Parses "250ms", "5s", "2m", "1h" or a bare number of milliseconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view s);
/// Parses "4MiB", "16KiB", "1MB", "512" (bytes).
std::optional<std::int64_t> parse_bytes(std::string_view s);

}  // namespace sy::config
