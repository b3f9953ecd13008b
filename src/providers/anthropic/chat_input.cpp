#include "providers/anthropic/chat_input.hpp"

namespace sy::providers::chat {
namespace {

Block text_block(std::string text, std::string field) {
  Block b;
  b.text = std::move(text);
  b.field = std::move(field);
  return b;
}

// The `cache_control` of a part or tool, or null.
Json cache_of(const Json& obj) {
  const Json* c = member(obj, "cache_control");
  return c && c->is_object() ? *c : Json();
}

// The cache breakpoint of a text-only content value: its last part's, when it is an array.
Json last_cache_of(const Json& content) {
  Json found;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (auto c = cache_of(part); !c.is_null()) found = std::move(c);
    }
  }
  return found;
}

// Text of a content value that may only hold text: a string or an array of text parts.
Result<std::string> text_only(const Json& content, const std::string& field) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return std::string();
  if (!content.is_array()) return field_error(field, "expected a string or an array of text parts");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    std::string type = string_member(part, "type");
    if (type != "text" && type != "input_text" && type != "refusal") {
      return field_error(field + "[" + std::to_string(i) + "]", "only text parts are allowed here");
    }
    if (!out.empty()) out += "\n";
    out += string_member(part, type == "refusal" ? "refusal" : "text");
  }
  return out;
}

Result<Block> image_block(const Json& part, const std::string& field) {
  const Json* image = member(part, "image_url");
  std::string url;
  if (image && image->is_string()) url = image->get<std::string>();
  else if (image && image->is_object()) url = string_member(*image, "url");
  if (url.empty()) return field_error(field + ".image_url.url", "expected an image URL");
  Block b;
  b.kind = Block::Kind::image;
  b.field = field;
  if (url.starts_with("data:")) {
    auto d = parse_data_url(url);
    if (!d) return field_error(field + ".image_url.url", "expected a data:<media type>;base64,<data> URL");
    b.media_type = std::move(d->media_type);
    b.data = std::move(d->data);
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    b.url = std::move(url);
  } else {
    return field_error(field + ".image_url.url", "expected an http(s) or data: URL");
  }
  return b;
}

Result<Block> file_block(const Json& part, const std::string& field) {
  const Json* file = member(part, "file");
  std::string data = file ? string_member(*file, "file_data") : std::string();
  auto d = parse_data_url(data);
  if (!d) return field_error(field + ".file.file_data", "expected a data:<media type>;base64,<data> URL");
  Block b;
  b.kind = Block::Kind::document;
  b.field = field;
  b.media_type = std::move(d->media_type);
  b.data = std::move(d->data);
  b.name = file ? string_member(*file, "filename") : std::string();
  return b;
}

// User content: a string or an array of text, image and file parts.
Status user_blocks(const Json& content, const std::string& field, std::vector<Block>& out) {
  if (content.is_string()) {
    out.push_back(text_block(content.get<std::string>(), field));
    return ok_status();
  }
  if (!content.is_array()) return field_error(field, "expected a string or an array of content parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    std::string pf = field + "[" + std::to_string(i) + "]";
    std::string type = string_member(part, "type");
    if (type == "text" || type == "input_text") {
      out.push_back(text_block(string_member(part, "text"), pf));
    } else if (type == "image_url") {
      auto b = image_block(part, pf);
      if (!b) return std::move(b).error();
      out.push_back(std::move(*b));
    } else if (type == "file") {
      auto b = file_block(part, pf);
      if (!b) return std::move(b).error();
      out.push_back(std::move(*b));
    } else {
      return field_error(pf + ".type", "content part type '" + type + "' is not supported by this provider");
    }
    out.back().cache_control = cache_of(part);
  }
  return ok_status();
}

Status assistant_blocks(const Json& msg, const std::string& field, std::vector<Block>& out) {
  if (const Json* content = member(msg, "content")) {
    auto text = text_only(*content, field + ".content");
    if (!text) return std::move(text).error();
    out.push_back(text_block(std::move(*text), field + ".content"));
    out.back().cache_control = last_cache_of(*content);
  }
  const Json* calls = member(msg, "tool_calls");
  if (!calls) return ok_status();
  if (!calls->is_array()) return field_error(field + ".tool_calls", "expected an array");
  for (size_t i = 0; i < calls->size(); ++i) {
    const Json& call = (*calls)[i];
    std::string cf = field + ".tool_calls[" + std::to_string(i) + "]";
    const Json* fn = member(call, "function");
    if (!fn || !fn->is_object()) return field_error(cf + ".function", "expected an object");
    Block b;
    b.kind = Block::Kind::tool_use;
    b.field = cf;
    b.id = string_member(call, "id");
    b.name = string_member(*fn, "name");
    if (b.id.empty()) return field_error(cf + ".id", "expected a non-empty string");
    if (b.name.empty()) return field_error(cf + ".function.name", "expected a non-empty string");
    const Json* args = member(*fn, "arguments");
    if (args && args->is_object()) {
      b.input = *args;
    } else {
      auto parsed = parse_arguments(args && args->is_string() ? args->get_ref<const std::string&>() : std::string());
      if (!parsed) return field_error(cf + ".function.arguments", "expected a JSON object encoded as a string");
      b.input = std::move(*parsed);
    }
    out.push_back(std::move(b));
  }
  return ok_status();
}

void append_turn(std::vector<Turn>& turns, bool assistant, std::vector<Block> blocks) {
  // Empty text blocks are rejected by both Anthropic and Bedrock; a turn left empty is dropped.
  std::erase_if(blocks, [](const Block& b) { return b.kind == Block::Kind::text && b.text.empty(); });
  if (blocks.empty()) return;
  if (!turns.empty() && turns.back().assistant == assistant) {
    auto& dst = turns.back().blocks;
    dst.insert(dst.end(), std::make_move_iterator(blocks.begin()), std::make_move_iterator(blocks.end()));
    return;
  }
  turns.push_back(Turn{assistant, std::move(blocks)});
}

Status read_tools(const Json& body, ChatInput& in) {
  if (const Json* tools = member(body, "tools")) {
    if (!tools->is_array()) return field_error("tools", "expected an array");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      std::string tf = "tools[" + std::to_string(i) + "]";
      if (string_member(t, "type") != "function") return field_error(tf + ".type", "only function tools are supported");
      const Json* fn = member(t, "function");
      if (!fn || !fn->is_object()) return field_error(tf + ".function", "expected an object");
      ToolSpec spec;
      spec.name = string_member(*fn, "name");
      if (spec.name.empty()) return field_error(tf + ".function.name", "expected a non-empty string");
      spec.description = string_member(*fn, "description");
      const Json* params = member(*fn, "parameters");
      if (params && !params->is_object()) return field_error(tf + ".function.parameters", "expected a JSON Schema object");
      spec.schema = params ? *params : Json{{"type", "object"}, {"properties", Json::object()}};
      spec.cache_control = cache_of(t);
      in.tools.push_back(std::move(spec));
    }
  }
  if (const Json* choice = member(body, "tool_choice")) {
    if (choice->is_string()) {
      in.tool_choice = choice->get<std::string>();
      if (in.tool_choice != "auto" && in.tool_choice != "none" && in.tool_choice != "required") {
        return field_error("tool_choice", "expected auto, none, required or a named function");
      }
    } else if (choice->is_object()) {
      const Json* fn = member(*choice, "function");
      in.tool_choice_name = fn ? string_member(*fn, "name") : std::string();
      if (in.tool_choice_name.empty()) return field_error("tool_choice.function.name", "expected a non-empty string");
      in.tool_choice = "function";
    } else {
      return field_error("tool_choice", "expected a string or an object");
    }
  }
  if (const Json* p = member(body, "parallel_tool_calls")) {
    if (!p->is_boolean()) return field_error("parallel_tool_calls", "expected a boolean");
    in.parallel_tool_calls = p->get<bool>();
  }
  return ok_status();
}

Status read_sampling(const Json& body, ChatInput& in) {
  if (const Json* stop = member(body, "stop")) {
    if (stop->is_string()) {
      in.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) return field_error("stop[" + std::to_string(i) + "]", "expected a string");
        in.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      return field_error("stop", "expected a string or an array of strings");
    }
  }
  for (auto [key, slot] : {std::pair{"temperature", &in.temperature}, std::pair{"top_p", &in.top_p}}) {
    if (const Json* v = member(body, key)) {
      if (!v->is_number()) return field_error(key, "expected a number");
      *slot = v->get<double>();
    }
  }
  if (const Json* n = member(body, "n"); n && !(n->is_number_integer() && n->get<std::int64_t>() == 1)) {
    return field_error("n", "this provider returns one choice per request; n must be 1");
  }
  in.user = string_member(body, "user");
  return ok_status();
}

}  // namespace

std::optional<DataUrl> parse_data_url(std::string_view url) {
  if (!url.starts_with("data:")) return std::nullopt;
  url.remove_prefix(5);
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(0, comma);
  if (!meta.ends_with(";base64")) return std::nullopt;
  meta.remove_suffix(7);
  // Parameters such as ";charset=..." are not part of the media type.
  meta = meta.substr(0, meta.find(';'));
  if (meta.empty() || comma + 1 >= url.size()) return std::nullopt;
  return DataUrl{std::string(meta), std::string(url.substr(comma + 1))};
}

std::optional<Json> parse_arguments(std::string_view arguments) {
  size_t first = arguments.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Json::object();
  // Arguments are JSON text inside a JSON string: the document's guard never saw their nesting.
  auto parsed = json::parse_tree<Json>(arguments);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return std::move(*parsed);
}

Error unsupported_endpoint(std::string_view provider_type, Endpoint endpoint) {
  Error e = Error::make(ErrorKind::unavailable, std::string(provider_type) + " providers serve only /v1/chat/completions, not /v1" +
                                                    std::string(endpoint_path(endpoint)));
  e.code = "unsupported_endpoint";
  return e;
}

Result<ChatInput> read_chat_input(const Request& request) {
  ChatInput in;
  // The body passed the guard in Request::parse: no syntax error, and no nesting beyond the limit.
  in.body = Json::parse(request.body(), nullptr, false);
  if (!in.body.is_object()) return Error::bad_request("the request body is not a JSON object");
  const Json* messages = member(in.body, "messages");
  if (!messages || !messages->is_array()) return field_error("messages", "expected an array");
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& msg = (*messages)[i];
    std::string mf = "messages[" + std::to_string(i) + "]";
    std::string role = string_member(msg, "role");
    const Json* content = member(msg, "content");
    std::vector<Block> blocks;
    if (role == "system" || role == "developer") {
      auto text = text_only(content ? *content : Json(), mf + ".content");
      if (!text) return std::move(text).error();
      if (!text->empty()) in.system.push_back(SystemText{std::move(*text), last_cache_of(content ? *content : Json())});
      continue;
    }
    if (role == "user") {
      if (!content) return field_error(mf + ".content", "a user message needs content");
      if (auto st = user_blocks(*content, mf + ".content", blocks); !st) return std::move(st).error();
      append_turn(in.turns, false, std::move(blocks));
    } else if (role == "assistant") {
      if (auto st = assistant_blocks(msg, mf, blocks); !st) return std::move(st).error();
      append_turn(in.turns, true, std::move(blocks));
    } else if (role == "tool") {
      Block b;
      b.kind = Block::Kind::tool_result;
      b.field = mf;
      b.id = string_member(msg, "tool_call_id");
      if (b.id.empty()) return field_error(mf + ".tool_call_id", "expected a non-empty string");
      auto text = text_only(content ? *content : Json(), mf + ".content");
      if (!text) return std::move(text).error();
      b.text = std::move(*text);
      b.cache_control = last_cache_of(content ? *content : Json());
      blocks.push_back(std::move(b));
      append_turn(in.turns, false, std::move(blocks));
    } else {
      return field_error(mf + ".role", "expected system, developer, user, assistant or tool");
    }
  }
  if (in.turns.empty()) return field_error("messages", "needs at least one user or assistant message with content");
  if (auto st = read_tools(in.body, in); !st) return std::move(st).error();
  if (auto st = read_sampling(in.body, in); !st) return std::move(st).error();
  in.max_tokens = request.max_tokens();
  return in;
}

}  // namespace sy::providers::chat
