#include "switchyard/config/node.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

namespace sy::config {

void Diagnostics::error(std::string_view path, int line, std::string_view message) {
  std::string e;
  if (!file_.empty()) e += file_ + ":";
  if (line > 0) e += std::to_string(line) + ": ";
  else if (!file_.empty()) e += " ";
  if (!path.empty()) {
    e += path;
    e += ": ";
  }
  e += message;
  errors_.push_back(std::move(e));
}

const Node* Node::get(std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string Node::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

namespace {

bool parse_bool(std::string_view s, bool& out) {
  if (s == "true" || s == "yes" || s == "on" || s == "True" || s == "TRUE") { out = true; return true; }
  if (s == "false" || s == "no" || s == "off" || s == "False" || s == "FALSE") { out = false; return true; }
  return false;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::optional<std::string> Node::str(std::string_view key, Diagnostics& d, bool required) const {
  const Node* n = get(key);
  if (!n || n->is_null()) {
    if (required) d.error(child_path(key), line_, "required key is missing");
    return std::nullopt;
  }
  if (!n->is_scalar()) {
    n->error(d, "expected a string");
    return std::nullopt;
  }
  return n->scalar_;
}

std::optional<std::int64_t> Node::integer(std::string_view key, Diagnostics& d, std::int64_t min, std::int64_t max,
                                          bool required) const {
  const Node* n = get(key);
  if (!n || n->is_null()) {
    if (required) d.error(child_path(key), line_, "required key is missing");
    return std::nullopt;
  }
  std::int64_t v = 0;
  const std::string& s = n->scalar_;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n->is_scalar() || ec != std::errc() || p != s.data() + s.size()) {
    n->error(d, "expected an integer");
    return std::nullopt;
  }
  if (v < min || v > max) {
    n->error(d, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> Node::number(std::string_view key, Diagnostics& d, double min, double max, bool required) const {
  const Node* n = get(key);
  if (!n || n->is_null()) {
    if (required) d.error(child_path(key), line_, "required key is missing");
    return std::nullopt;
  }
  double v = 0;
  const std::string& s = n->scalar_;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n->is_scalar() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
    n->error(d, "expected a number");
    return std::nullopt;
  }
  if (v < min || v > max) {
    std::string lo = std::to_string(min), hi = std::to_string(max);
    n->error(d, "must be between " + lo + " and " + hi);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Node::boolean(std::string_view key, Diagnostics& d) const {
  const Node* n = get(key);
  if (!n || n->is_null()) return std::nullopt;
  bool v = false;
  if (!n->is_scalar() || !parse_bool(n->scalar_, v)) {
    n->error(d, "expected true or false");
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string_view unit = s.substr(static_cast<size_t>(p - s.data()));
  double mult = 0;
  if (unit.empty() || unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m" || unit == "min") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "us") mult = 0.001;
  else return std::nullopt;
  return static_cast<std::int64_t>(std::llround(v * mult));
}

std::optional<std::int64_t> parse_bytes(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string_view unit = s.substr(static_cast<size_t>(p - s.data()));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k") mult = 1024;
  else if (unit == "MiB" || unit == "M") mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB") mult = 1000;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else return std::nullopt;
  return static_cast<std::int64_t>(std::llround(v * mult));
}

std::optional<std::int64_t> Node::duration_ms(std::string_view key, Diagnostics& d) const {
  const Node* n = get(key);
  if (!n || n->is_null()) return std::nullopt;
  auto v = n->is_scalar() ? parse_duration_ms(n->scalar_) : std::nullopt;
  if (!v) n->error(d, "expected a duration such as 250ms, 5s, 2m or a number of milliseconds");
  return v;
}

std::optional<std::int64_t> Node::bytes(std::string_view key, Diagnostics& d) const {
  const Node* n = get(key);
  if (!n || n->is_null()) return std::nullopt;
  auto v = n->is_scalar() ? parse_bytes(n->scalar_) : std::nullopt;
  if (!v) n->error(d, "expected a size such as 4MiB, 16KiB or a number of bytes");
  return v;
}

std::optional<std::vector<std::string>> Node::str_list(std::string_view key, Diagnostics& d) const {
  const Node* n = get(key);
  if (!n || n->is_null()) return std::nullopt;
  std::vector<std::string> out;
  if (n->is_scalar()) {
    out.push_back(n->scalar_);
    return out;
  }
  if (!n->is_sequence()) {
    n->error(d, "expected a list of strings");
    return std::nullopt;
  }
  for (const auto& item : n->items_) {
    if (!item.is_scalar()) {
      item.error(d, "expected a string");
      continue;
    }
    out.push_back(item.scalar_);
  }
  return out;
}

void Node::check_keys(std::initializer_list<std::string_view> allowed, Diagnostics& d) const {
  check_keys(std::vector<std::string_view>(allowed), d);
}

void Node::check_keys(const std::vector<std::string_view>& allowed, Diagnostics& d) const {
  if (!is_map()) return;
  for (const auto& [k, v] : members_) {
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    std::string msg = "unknown key \"" + k + "\"";
    std::string_view best;
    size_t best_d = 3;
    for (auto a : allowed) {
      size_t dist = edit_distance(k, a);
      if (dist < best_d) { best_d = dist; best = a; }
    }
    if (!best.empty()) msg += " (did you mean \"" + std::string(best) + "\"?)";
    d.error(v.path_, v.line_, msg);
  }
}

Node Node::make_scalar(std::string value, std::string path, int line) {
  Node n;
  n.kind_ = Kind::scalar;
  n.scalar_ = std::move(value);
  n.path_ = std::move(path);
  n.line_ = line;
  return n;
}
Node Node::make_sequence(std::vector<Node> items, std::string path, int line) {
  Node n;
  n.kind_ = Kind::sequence;
  n.items_ = std::move(items);
  n.path_ = std::move(path);
  n.line_ = line;
  return n;
}
Node Node::make_map(std::vector<std::pair<std::string, Node>> members, std::string path, int line) {
  Node n;
  n.kind_ = Kind::map;
  n.members_ = std::move(members);
  n.path_ = std::move(path);
  n.line_ = line;
  return n;
}
Node Node::make_null(std::string path, int line) {
  Node n;
  n.path_ = std::move(path);
  n.line_ = line;
  return n;
}

namespace {

// Replaces ${VAR} and ${VAR:-default}. Values never appear in messages.
std::string expand_env(const std::string& s, const std::string& path, int line, Diagnostics& d) {
  if (s.find("${") == std::string::npos) return s;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = s.find("${", i);
    if (start == std::string::npos) {
      out.append(s, i, std::string::npos);
      break;
    }
    out.append(s, i, start - i);
    size_t end = s.find('}', start);
    if (end == std::string::npos) {
      d.error(path, line, "unterminated ${...} reference");
      return out;
    }
    std::string ref = s.substr(start + 2, end - start - 2);
    std::string name = ref, fallback;
    bool has_default = false;
    if (auto p = ref.find(":-"); p != std::string::npos) {
      name = ref.substr(0, p);
      fallback = ref.substr(p + 2);
      has_default = true;
    }
    const char* v = std::getenv(name.c_str());
    if (v && *v) out.append(v);
    else if (has_default) out.append(fallback);
    else d.error(path, line, "environment variable " + name + " is not set");
    i = end + 1;
  }
  return out;
}

// Bounds on the document a config may expand to. Depth keeps the recursion below shallow; the node
// count stops aliases from multiplying a small file into a huge tree ("billion laughs").
constexpr int kMaxConfigDepth = 64;
constexpr std::size_t kMaxConfigNodes = 1'000'000;

struct Converter {
  Diagnostics& d;
  std::size_t nodes = 0;
  bool stopped = false;

  Node convert(const YAML::Node& y, const std::string& path, int depth) {
    int line = y.Mark().line >= 0 ? y.Mark().line + 1 : 0;
    if (stopped) return Node::make_null(path, line);
    if (++nodes > kMaxConfigNodes) {
      d.error(path, line, "the config expands to more than " + std::to_string(kMaxConfigNodes) + " values (aliases?)");
      stopped = true;
      return Node::make_null(path, line);
    }
    if (depth > kMaxConfigDepth && (y.IsSequence() || y.IsMap())) {
      d.error(path, line, "the config nests deeper than " + std::to_string(kMaxConfigDepth) + " levels");
      stopped = true;
      return Node::make_null(path, line);
    }
    switch (y.Type()) {
      case YAML::NodeType::Scalar:
        return Node::make_scalar(expand_env(y.Scalar(), path, line, d), path, line);
      case YAML::NodeType::Sequence: {
        std::vector<Node> items;
        size_t i = 0;
        for (const auto& item : y) {
          items.push_back(convert(item, path + "[" + std::to_string(i) + "]", depth + 1));
          ++i;
        }
        return Node::make_sequence(std::move(items), path, line);
      }
      case YAML::NodeType::Map: {
        std::vector<std::pair<std::string, Node>> members;
        std::set<std::string> seen;
        for (const auto& kv : y) {
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<non-scalar key>");
          if (!seen.insert(key).second) d.error(path.empty() ? key : path + "." + key, kv.first.Mark().line + 1, "duplicate key");
          members.emplace_back(key, convert(kv.second, path.empty() ? key : path + "." + key, depth + 1));
        }
        return Node::make_map(std::move(members), path, line);
      }
      default:
        return Node::make_null(path, line);
    }
  }
};

}  // namespace

Node parse_yaml(std::string_view text, Diagnostics& d) {
  if (text.size() > kMaxConfigBytes) {
    d.error("", 0, "the config file is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                       std::to_string(kMaxConfigBytes));
    return Node{};
  }
  YAML::Node root;
  try {
    // yaml-cpp bounds its own recursion (DeepRecursion, a ParserException, past 2000 levels).
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    d.error("", e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML syntax error: " + e.msg);
    return Node{};
  }
  Converter c{d};
  return c.convert(root, "", 0);
}

}  // namespace sy::config
