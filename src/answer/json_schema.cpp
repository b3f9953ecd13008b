#include "switchyard/answer/json_schema.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "switchyard/core/json_tree.hpp"

namespace sy::answer {

using nlohmann::json;

namespace {

enum TypeBit : unsigned {
  kObject = 1u << 0,
  kArray = 1u << 1,
  kString = 1u << 2,
  kNumber = 1u << 3,
  kInteger = 1u << 4,
  kBoolean = 1u << 5,
  kNull = 1u << 6,
};

std::optional<unsigned> type_bit(std::string_view name) {
  if (name == "object") return kObject;
  if (name == "array") return kArray;
  if (name == "string") return kString;
  if (name == "number") return kNumber;
  if (name == "integer") return kInteger;
  if (name == "boolean") return kBoolean;
  if (name == "null") return kNull;
  return std::nullopt;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::null: return "null";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "value";
  }
}

bool is_integer(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && d == std::floor(d);
}

bool has_type(const json& v, unsigned mask) {
  if (mask == 0) return true;
  if ((mask & kObject) && v.is_object()) return true;
  if ((mask & kArray) && v.is_array()) return true;
  if ((mask & kString) && v.is_string()) return true;
  if ((mask & kNumber) && v.is_number()) return true;
  if ((mask & kInteger) && is_integer(v)) return true;
  if ((mask & kBoolean) && v.is_boolean()) return true;
  if ((mask & kNull) && v.is_null()) return true;
  return false;
}

std::string mask_names(unsigned mask) {
  std::string out;
  for (auto [bit, name] : {std::pair{kObject, "object"}, {kArray, "array"}, {kString, "string"}, {kNumber, "number"},
                           {kInteger, "integer"}, {kBoolean, "boolean"}, {kNull, "null"}}) {
    if (!(mask & bit)) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return out;
}

/// JSON numbers compare by value (1 == 1.0), everything else structurally.
bool json_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

/// Length in code points (what JSON Schema's minLength/maxLength count).
std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

struct JsonSchema::Node {
  unsigned types = 0;  ///< 0: any type
  std::map<std::string, std::shared_ptr<const Node>, std::less<>> properties;
  std::vector<std::string> required;
  bool additional_allowed = true;
  std::shared_ptr<const Node> additional;  ///< schema for properties not in `properties`
  std::shared_ptr<const Node> items;
  std::vector<json> enum_values;
  bool has_enum = false;
  std::optional<json> const_value;
  std::optional<double> minimum, maximum;
  std::optional<std::size_t> min_length, max_length, min_items, max_items;
  std::vector<std::shared_ptr<const Node>> any_of;
};

namespace {

using Node = JsonSchema::Node;

Result<std::shared_ptr<const Node>> compile(const json& s, const std::string& path);

Result<std::size_t> count_of(const json& s, const char* key, const std::string& path) {
  const json& v = s.at(key);
  if (!v.is_number_integer() || v.get<long long>() < 0)
    return Error::bad_request(path + "." + key + ": must be a non-negative integer");
  return static_cast<std::size_t>(v.get<long long>());
}

Result<std::shared_ptr<const Node>> compile(const json& s, const std::string& path) {
  auto node = std::make_shared<Node>();
  if (s.is_boolean()) {
    // `true` accepts anything; `false` accepts nothing (an empty enum).
    if (!s.get<bool>()) node->has_enum = true;
    return std::shared_ptr<const Node>(node);
  }
  if (!s.is_object()) return Error::bad_request(path + ": a schema must be an object or a boolean");
  if (auto it = s.find("type"); it != s.end()) {
    std::vector<json> names = it->is_array() ? it->get<std::vector<json>>() : std::vector<json>{*it};
    for (const json& n : names) {
      auto bit = n.is_string() ? type_bit(n.get<std::string>()) : std::nullopt;
      if (!bit) return Error::bad_request(path + ".type: unknown type " + n.dump());
      node->types |= *bit;
    }
  }
  if (auto it = s.find("properties"); it != s.end()) {
    if (!it->is_object()) return Error::bad_request(path + ".properties: must be an object");
    for (auto& [name, sub] : it->items()) {
      auto c = compile(sub, path + ".properties." + name);
      if (!c) return std::move(c).error();
      node->properties.emplace(name, *c);
    }
  }
  if (auto it = s.find("required"); it != s.end()) {
    if (!it->is_array()) return Error::bad_request(path + ".required: must be an array of names");
    for (const json& n : *it) {
      if (!n.is_string()) return Error::bad_request(path + ".required: must be an array of names");
      node->required.push_back(n.get<std::string>());
    }
  }
  if (auto it = s.find("additionalProperties"); it != s.end()) {
    if (it->is_boolean()) {
      node->additional_allowed = it->get<bool>();
    } else {
      auto c = compile(*it, path + ".additionalProperties");
      if (!c) return std::move(c).error();
      node->additional = *c;
    }
  }
  if (auto it = s.find("items"); it != s.end()) {
    auto c = compile(*it, path + ".items");
    if (!c) return std::move(c).error();
    node->items = *c;
  }
  if (auto it = s.find("enum"); it != s.end()) {
    if (!it->is_array()) return Error::bad_request(path + ".enum: must be an array");
    node->has_enum = true;
    node->enum_values = it->get<std::vector<json>>();
  }
  if (auto it = s.find("const"); it != s.end()) node->const_value = *it;
  for (auto [key, field] : {std::pair{"minimum", &Node::minimum}, std::pair{"maximum", &Node::maximum}}) {
    if (auto it = s.find(key); it != s.end()) {
      if (!it->is_number()) return Error::bad_request(path + "." + key + ": must be a number");
      (*node).*field = it->get<double>();
    }
  }
  for (auto [key, field] : {std::pair{"minLength", &Node::min_length}, std::pair{"maxLength", &Node::max_length},
                            std::pair{"minItems", &Node::min_items}, std::pair{"maxItems", &Node::max_items}}) {
    if (s.contains(key)) {
      auto n = count_of(s, key, path);
      if (!n) return std::move(n).error();
      (*node).*field = *n;
    }
  }
  if (auto it = s.find("anyOf"); it != s.end()) {
    if (!it->is_array() || it->empty()) return Error::bad_request(path + ".anyOf: must be a non-empty array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto c = compile((*it)[i], path + ".anyOf[" + std::to_string(i) + "]");
      if (!c) return std::move(c).error();
      node->any_of.push_back(*c);
    }
  }
  return std::shared_ptr<const Node>(node);
}

class Validator {
 public:
  explicit Validator(std::size_t max_errors) : max_(max_errors) {}
  std::vector<std::string> errors;

  bool full() const { return errors.size() >= max_; }

  void check(const Node& n, const json& v, const std::string& path) {
    if (full()) return;
    if (!has_type(v, n.types)) {
      add(path, "expected " + mask_names(n.types) + ", got " + type_name(v));
      return;  // the other keywords assume the declared type
    }
    if (n.has_enum) {
      bool found = false;
      for (const json& e : n.enum_values) found = found || json_equal(e, v);
      if (!found) add(path, "value " + short_dump(v) + " is not one of the allowed values");
    }
    if (n.const_value && !json_equal(*n.const_value, v)) add(path, "must equal " + short_dump(*n.const_value));
    if (v.is_number()) {
      const double d = v.get<double>();
      if (n.minimum && d < *n.minimum) add(path, short_dump(v) + " is below the minimum " + short_dump(json(*n.minimum)));
      if (n.maximum && d > *n.maximum) add(path, short_dump(v) + " is above the maximum " + short_dump(json(*n.maximum)));
    }
    if (v.is_string()) {
      const std::size_t len = utf8_length(v.get_ref<const std::string&>());
      if (n.min_length && len < *n.min_length) add(path, "string shorter than " + std::to_string(*n.min_length));
      if (n.max_length && len > *n.max_length) add(path, "string longer than " + std::to_string(*n.max_length));
    }
    if (v.is_object()) {
      for (const std::string& r : n.required)
        if (!v.contains(r)) add(path, "required property '" + r + "' is missing");
      for (auto& [key, value] : v.items()) {
        if (full()) return;
        auto it = n.properties.find(key);
        if (it != n.properties.end()) check(*it->second, value, path + "." + key);
        else if (!n.additional_allowed) add(path, "property '" + key + "' is not allowed");
        else if (n.additional) check(*n.additional, value, path + "." + key);
      }
    }
    if (v.is_array()) {
      if (n.min_items && v.size() < *n.min_items) add(path, "fewer than " + std::to_string(*n.min_items) + " items");
      if (n.max_items && v.size() > *n.max_items) add(path, "more than " + std::to_string(*n.max_items) + " items");
      if (n.items)
        for (std::size_t i = 0; i < v.size() && !full(); ++i) check(*n.items, v[i], path + "[" + std::to_string(i) + "]");
    }
    if (!n.any_of.empty()) {
      bool any = false;
      for (const auto& alt : n.any_of) {
        Validator probe(1);
        probe.check(*alt, v, path);
        any = any || probe.errors.empty();
      }
      if (!any) add(path, "matches none of the anyOf alternatives");
    }
  }

 private:
  static std::string short_dump(const json& v) {
    std::string s = v.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
  }
  void add(const std::string& path, std::string what) {
    if (!full()) errors.push_back(path + ": " + std::move(what));
  }
  std::size_t max_;
};

}  // namespace

Result<JsonSchema> JsonSchema::parse(std::string_view schema_json) {
  auto s = sy::json::parse_tree<json>(schema_json);
  if (!s) return Error::bad_request("schema is not valid JSON: " + s.error().message);
  auto root = compile(*s, "$");
  if (!root) return std::move(root).error();
  return JsonSchema(*root);
}

std::vector<std::string> JsonSchema::validate(std::string_view instance_json, std::size_t max_errors) const {
  auto v = sy::json::parse_tree<json>(instance_json);
  if (!v) return {"$: not valid JSON"};
  Validator val(std::max<std::size_t>(max_errors, 1));
  if (root_) val.check(*root_, *v, "$");
  return std::move(val.errors);
}

bool is_valid_json(std::string_view text) { return sy::json::validate(text).ok(); }

}  // namespace sy::answer
