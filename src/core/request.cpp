#include "switchyard/core/request.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace sy {

std::string_view endpoint_path(Endpoint e) {
  switch (e) {
    case Endpoint::chat: return "/chat/completions";
    case Endpoint::completions: return "/completions";
    case Endpoint::embeddings: return "/embeddings";
  }
  return "/chat/completions";
}

namespace {

Error field_error(std::string_view field, std::string message) {
  return Error::bad_request(std::move(message), std::string(field), "invalid_value");
}

Error wrong_type(std::string_view field, std::string_view expected, json::Type got) {
  return Error::bad_request("Invalid type for '" + std::string(field) + "': expected " + std::string(expected) +
                                ", but got " + std::string(json::type_name(got)) + ".",
                            std::string(field), "invalid_type");
}

// Allowed JSON types of optional fields, as bits of 1 << Type. null is always allowed (it means absent).
constexpr unsigned bit(json::Type t) { return 1u << static_cast<unsigned>(t); }
constexpr unsigned kNumber = bit(json::Type::number), kString = bit(json::Type::string),
                   kBool = bit(json::Type::boolean), kObject = bit(json::Type::object), kArray = bit(json::Type::array);

struct FieldType {
  std::string_view key;
  unsigned allowed;
  std::string_view expected;
};

// Optional OpenAI fields whose type the gateway checks: a request the upstream would refuse is
// refused here, before anything is routed, reserved or paid for.
constexpr FieldType kFieldTypes[] = {
    {"stream_options", kObject, "an object"},   {"temperature", kNumber, "a number"},
    {"top_p", kNumber, "a number"},             {"n", kNumber, "an integer"},
    {"presence_penalty", kNumber, "a number"},  {"frequency_penalty", kNumber, "a number"},
    {"seed", kNumber, "an integer"},            {"logprobs", kBool, "a boolean"},
    {"top_logprobs", kNumber, "an integer"},    {"tools", kArray, "an array"},
    {"tool_choice", kString | kObject, "a string or an object"},
    {"parallel_tool_calls", kBool, "a boolean"},
    {"response_format", kObject, "an object"},  {"stop", kString | kArray, "a string or an array of strings"},
    {"user", kString, "a string"},              {"logit_bias", kObject, "an object"},
    {"metadata", kObject, "an object"},
};

// A prompt or embedding input given as an array: strings, token ids, or arrays of token ids.
std::optional<Error> check_text_array(std::string_view field, std::string_view raw) {
  auto items = json::scan_array(raw);
  if (!items) return std::move(items).error();
  for (size_t i = 0; i < items->size(); ++i) {
    const auto& item = (*items)[i];
    bool ok = item.type == json::Type::string || item.type == json::Type::number;
    if (item.type == json::Type::array) {
      auto ids = json::scan_array(item.value);
      ok = ids && std::all_of(ids->begin(), ids->end(), [](const json::Field& f) { return f.type == json::Type::number; });
    }
    if (!ok) {
      std::string name = std::string(field) + "[" + std::to_string(i) + "]";
      return Error::bad_request("Invalid type for '" + name + "': expected a string, a token id or an array of token ids, but got " +
                                    std::string(json::type_name(item.type)) + ".",
                                name, "invalid_type");
    }
  }
  return std::nullopt;
}

Error missing(std::string_view field) {
  return Error::bad_request("Missing required parameter: '" + std::string(field) + "'.", std::string(field),
                            "missing_required_parameter");
}

}  // namespace

Result<std::unique_ptr<Request>> Request::parse(Endpoint endpoint, std::string body, const json::Limits& limits) {
  std::unique_ptr<Request> r(new Request());
  r->endpoint_ = endpoint;
  r->limits_ = limits;
  r->body_ = std::move(body);
  auto scanned = json::scan_object(r->body_, json::Limits{limits.max_depth, std::max(limits.max_bytes, r->body_.size())},
                                   endpoint == Endpoint::chat ? "messages" : "");
  if (!scanned) return std::move(scanned).error();
  r->fields_ = std::move(scanned).value();
  const auto& f = r->fields_;

  const json::Field* model = f.find("model");
  if (!model) return missing("model");
  if (model->type != json::Type::string) return wrong_type("model", "a string", model->type);
  auto model_name = json::string_value(model->value);
  if (!model_name || model_name->empty()) return field_error("model", "'model' must be a non-empty string.");
  r->model_ = std::move(*model_name);

  const char* payload_key = endpoint == Endpoint::chat ? "messages" : endpoint == Endpoint::completions ? "prompt" : "input";
  const json::Field* payload = f.find(payload_key);
  if (!payload) return missing(payload_key);
  if (endpoint == Endpoint::chat) {
    if (payload->type != json::Type::array) return wrong_type("messages", "an array", payload->type);
    // Its elements were recorded by the scan above; kept for compute_texts.
    auto& items = r->fields_.elements;
    if (items.empty()) return field_error("messages", "'messages' must contain at least one message.");
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].type != json::Type::object) {
        return wrong_type("messages[" + std::to_string(i) + "]", "an object", items[i].type);
      }
    }
  } else if (payload->type != json::Type::string && payload->type != json::Type::array) {
    return wrong_type(payload_key, "a string or an array", payload->type);
  } else if (payload->type == json::Type::array) {
    if (auto e = check_text_array(payload_key, payload->value)) return std::move(*e);
  }
  r->payload_ = payload->value;
  // Unrolled, each key is a constant: most of these fields are absent, and find()'s filter then costs
  // a load and a test.
#pragma GCC unroll 32
  for (const auto& ft : kFieldTypes) {
    const auto* v = f.find(ft.key);
    if (v && v->type != json::Type::null && !(ft.allowed & bit(v->type))) return wrong_type(ft.key, ft.expected, v->type);
  }

  if (const auto* s = f.find("stream")) {
    if (s->type == json::Type::boolean) r->stream_ = s->value == "true";
    else if (s->type != json::Type::null) return wrong_type("stream", "a boolean", s->type);
  }
  if (endpoint == Endpoint::embeddings && r->stream_) return field_error("stream", "Embeddings do not stream.");
  if (const auto* so = f.find("stream_options"); so && so->type == json::Type::object) {
    auto opts = json::scan_object(so->value);
    if (opts) {
      if (const auto* iu = opts->find("include_usage")) {
        if (iu->type != json::Type::boolean && iu->type != json::Type::null) {
          return wrong_type("stream_options.include_usage", "a boolean", iu->type);
        }
        r->client_wants_usage_ = iu->value == "true";
      }
    }
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto* mt = f.find(key); mt && !r->max_tokens_) {
      if (mt->type == json::Type::null) continue;
      if (mt->type != json::Type::number) return wrong_type(key, "an integer", mt->type);
      auto v = json::integer_value(mt->value);
      if (!v || *v < 1) return field_error(key, std::string("'") + key + "' must be a positive integer.");
      // The body goes upstream as sent; what the gateway reserves and compares is bounded, so that no
      // sum of token counts can overflow (no model takes 2^30 output tokens).
      r->max_tokens_ = std::min<std::int64_t>(*v, kMaxTokensCounted);
    }
  }
  if (const auto* t = f.find("temperature"); t && t->type == json::Type::number) r->temperature_ = json::number_value(t->value);
  if (const auto* t = f.find("tools"); t && t->type == json::Type::array && t->value.find('{') != std::string_view::npos) {
    r->has_tools_ = true;
  }
  if (const auto* rf = f.find("response_format"); rf && rf->type == json::Type::object) {
    auto o = json::scan_object(rf->value);
    if (o) {
      const auto* ty = o->find("type");
      if (!ty || ty->type != json::Type::string) {
        return field_error("response_format.type", "'response_format.type' must be a string (text, json_object or json_schema).");
      }
      r->response_format_ = json::string_value(ty->value).value_or("");
    }
  }
  if (const auto* st = f.find("stop"); st && st->type == json::Type::array) {
    auto items = json::scan_array(st->value);
    for (size_t i = 0; items && i < items->size(); ++i) {
      if ((*items)[i].type != json::Type::string) return wrong_type("stop[" + std::to_string(i) + "]", "a string", (*items)[i].type);
    }
  }
  if (const auto* t = f.find("tools"); t && t->type == json::Type::array) {
    auto items = json::scan_array(t->value);
    for (size_t i = 0; items && i < items->size(); ++i) {
      if ((*items)[i].type != json::Type::object) return wrong_type("tools[" + std::to_string(i) + "]", "an object", (*items)[i].type);
    }
  }
  if (const auto* ext = f.find("switchyard")) {
    if (ext->type != json::Type::object && ext->type != json::Type::null) return wrong_type("switchyard", "an object", ext->type);
    if (ext->type == json::Type::object) r->extension_ = ext->value;
  }
  return r;
}

namespace {

// Appends the text of a string token of a parsed request's body. parse validated the whole body, so a
// token without escapes is its own text: it is copied as is, without the decoder's second validation
// (most prompts and every role name have no escapes).
void append_text(std::string_view raw, std::string& out) {
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.find('\\') == std::string_view::npos) out.append(inner);
  else json::append_string_value(raw, out);
}

// A walk over the members of one object of a parsed request's body. parse validated the whole body
// (syntax, UTF-8, unique keys), so the members are found by skipping bytes: no second validation and
// no allocation, for the message objects every routed request reads (compute_texts).
class ValidatedObject {
 public:
  explicit ValidatedObject(std::string_view object) : s_(object) {}
  // The members whose decoded keys are keys[k], in one pass, as out[k]; a key that is absent leaves
  // its field with an empty value.
  template <std::size_t N>
  void find(const std::array<std::string_view, N>& keys, std::array<json::Field, N>& out) const {
    std::size_t missing = N;
    for (std::size_t i = skip_space(1); missing > 0 && i < s_.size() && s_[i] == '"';) {
      const std::size_t key_end = string_end(i);
      const std::string_view token = s_.substr(i, key_end - i);
      const std::size_t start = skip_space(skip_space(key_end) + 1);  // past the colon
      json::Type type = json::Type::null;
      const std::size_t end = value_end(start, type);
      for (std::size_t k = 0; k < N; ++k) {
        if (!out[k].value.empty() || !key_is(token, keys[k])) continue;
        out[k] = json::Field{keys[k], s_.substr(start, end - start), type, token.substr(1, token.size() - 2)};
        --missing;
      }
      i = skip_space(end);
      if (i < s_.size() && s_[i] == ',') i = skip_space(i + 1);
    }
  }

 private:
  // Whether the key token (quotes included) decodes to `key`.
  static bool key_is(std::string_view token, std::string_view key) {
    const std::string_view raw = token.substr(1, token.size() - 2);
    if (raw.find('\\') == std::string_view::npos) return raw == key;
    return json::string_value(token) == key;  // escapes (rare): compare the decoded key
  }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  std::size_t skip_space(std::size_t i) const {
    while (i < s_.size() && space(s_[i])) ++i;
    return i;
  }
  // One past the closing quote of the string token that opens at i: the first quote after it that
  // an even number of backslashes precedes (memchr finds the quotes, most strings have no escapes).
  std::size_t string_end(std::size_t i) const {
    for (std::size_t from = i + 1; from < s_.size();) {
      const void* q = std::memchr(s_.data() + from, '"', s_.size() - from);
      if (q == nullptr) break;
      const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - s_.data());
      std::size_t first = at;
      while (first > i + 1 && s_[first - 1] == '\\') --first;
      if ((at - first) % 2 == 0) return at + 1;
      from = at + 1;
    }
    return s_.size();
  }
  // One past the value that starts at i; its type in `type`.
  std::size_t value_end(std::size_t i, json::Type& type) const {
    if (i >= s_.size()) return i;
    const char c = s_[i];
    if (c == '"') {
      type = json::Type::string;
      return string_end(i);
    }
    if (c == '{' || c == '[') {
      type = c == '{' ? json::Type::object : json::Type::array;
      for (int depth = 0; i < s_.size(); ++i) {
        const char d = s_[i];
        if (d == '"') i = string_end(i) - 1;
        else if (d == '{' || d == '[') ++depth;
        else if ((d == '}' || d == ']') && --depth == 0) return i + 1;
      }
      return i;
    }
    type = c == 't' || c == 'f' ? json::Type::boolean : c == 'n' ? json::Type::null : json::Type::number;
    while (i < s_.size() && s_[i] != ',' && s_[i] != '}' && !space(s_[i])) ++i;
    return i;
  }
  std::string_view s_;
};

// Appends the text of a `content` value: a string, or an array of parts with {"type":"text","text":...}.
void append_content(const json::Field& content, MessageText& m) {
  if (content.type == json::Type::string) {
    append_text(content.value, m.text);
    return;
  }
  if (content.type != json::Type::array) return;
  auto parts = json::scan_array(content.value);
  if (!parts) return;
  for (const auto& part : *parts) {
    if (part.type == json::Type::string) {  // completions prompt arrays
      if (!m.text.empty()) m.text.push_back('\n');
      append_text(part.value, m.text);
      continue;
    }
    if (part.type != json::Type::object) continue;
    auto p = json::scan_object(part.value);
    if (!p) continue;
    const auto* type = p->find("type");
    std::string t;
    if (type && type->type == json::Type::string) append_text(type->value, t);
    if (t == "text" || t == "input_text") {
      if (const auto* text = p->find("text"); text && text->type == json::Type::string) {
        if (!m.text.empty()) m.text.push_back('\n');
        append_text(text->value, m.text);
      }
    } else if (t == "image_url" || t == "input_image" || t == "image") {
      m.has_image = true;
    }
  }
}

}  // namespace

void Request::compute_texts() const {
  if (texts_ready_) return;
  texts_ready_ = true;
  if (endpoint_ == Endpoint::chat) {
    messages_.reserve(fields_.elements.size());
    for (const auto& item : fields_.elements) {
      if (item.type != json::Type::object) continue;
      std::array<json::Field, 2> found{};  // role, content
      ValidatedObject(item.value).find(std::array<std::string_view, 2>{"role", "content"}, found);
      MessageText m;
      if (found[0].type == json::Type::string) append_text(found[0].value, m.role);
      if (!found[1].value.empty()) append_content(found[1], m);
      messages_.push_back(std::move(m));
    }
  } else {
    MessageText m;
    m.role = "user";
    append_content(json::Field{{}, payload_, payload_.starts_with('"') ? json::Type::string : json::Type::array, {}}, m);
    messages_.push_back(std::move(m));
  }
}

const std::vector<MessageText>& Request::messages() const {
  compute_texts();
  return messages_;
}

std::string_view Request::last_user_text() const {
  compute_texts();
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    if (it->role == "user") return it->text;
  }
  return {};
}

const std::string& Request::all_text() const {
  compute_texts();
  // Joined on first use: most routers read only the last user message.
  if (!all_text_ready_) {
    all_text_ready_ = true;
    for (const auto& m : messages_) {
      if (!all_text_.empty()) all_text_.push_back('\n');
      all_text_.append(m.text);
    }
  }
  return all_text_;
}

bool Request::has_images() const {
  compute_texts();
  for (const auto& m : messages_) {
    if (m.has_image) return true;
  }
  return false;
}

Payload Request::forward_body(std::string_view upstream_model, std::vector<json::Edit> extra) const {
  extra.push_back(json::Edit{"model", json::quote(upstream_model)});
  if (fields_.find("switchyard")) extra.push_back(json::Edit{"switchyard", std::nullopt});
  return json::splice_borrowing(body_, fields_, extra);
}

}  // namespace sy
