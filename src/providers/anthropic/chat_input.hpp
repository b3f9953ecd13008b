#pragma once
/// An OpenAI chat request read into the "system + alternating turns of typed blocks" model that the
/// Anthropic Messages API introduced and Bedrock Converse copied. Both egress formats build their
/// upstream bodies from this, so role merging, image and tool translation, and field-naming errors are
/// written once. Pure functions; the result owns its data.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/core/request.hpp"

namespace sy::providers::chat {

using Json = nlohmann::ordered_json;

// Reading a parsed request document without throwing on a type mismatch, shared by the chat-parts
// reader and the client dialects' decoders (Anthropic Messages, Responses).

/// The member `key` of an object, or null when it is absent or null (or `obj` is not an object).
inline const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

/// A string member, or empty.
inline std::string string_member(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

/// Serialised, with invalid UTF-8 replaced (never throws).
inline std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

/// The 400 for a field of the request: "'field': message".
inline Error field_error(const std::string& field, std::string message, std::string code = "invalid_value") {
  return Error::bad_request("'" + field + "': " + std::move(message), field, std::move(code));
}

struct Block {
  enum class Kind : std::uint8_t { text, image, document, tool_use, tool_result };
  Kind kind = Kind::text;
  std::string text;        ///< text, or the tool result's content
  std::string media_type;  ///< image/document: "image/png", "application/pdf"
  std::string data;        ///< image/document: base64 bytes from a data: URL (empty when `url` is set)
  std::string url;         ///< image: an http(s) URL
  std::string id;          ///< tool_use id, or the tool_use id a tool_result answers
  std::string name;        ///< tool_use: function name
  Json input;              ///< tool_use: the arguments as a JSON object
  std::string field;       ///< where it came from ("messages[2].content[1]"), for errors downstream
  Json cache_control;      ///< a prompt-cache breakpoint after this block ({"type":"ephemeral",...}), or null
};

/// One system or developer message's text, with its prompt-cache breakpoint (null when none).
struct SystemText {
  std::string text;
  Json cache_control;
};

/// One turn of the conversation. Consecutive messages of the same role are merged into one turn;
/// OpenAI `tool` messages become user turns of tool_result blocks.
struct Turn {
  bool assistant = false;
  std::vector<Block> blocks;
};

struct ToolSpec {
  std::string name;
  std::string description;
  Json schema;  ///< JSON Schema of the arguments; {"type":"object","properties":{}} when absent
  Json cache_control;  ///< a prompt-cache breakpoint after this tool, or null
};

struct ChatInput {
  std::vector<SystemText> system;  ///< system and developer messages, in order
  std::vector<Turn> turns;
  std::vector<ToolSpec> tools;
  std::string tool_choice;           ///< "", "auto", "none", "required" or "function"
  std::string tool_choice_name;      ///< for "function"
  std::optional<bool> parallel_tool_calls;
  std::vector<std::string> stop;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> max_tokens;  ///< max_completion_tokens, else max_tokens
  std::string user;
  Json body;  ///< the whole request, for provider-specific pass-through fields
};

/// Reads a chat request. Errors are bad_request naming the offending field ("messages[1].content[0]").
/// Prompt-cache breakpoints ride on content parts and tools as Anthropic-style `cache_control` members
/// (the convention OpenAI-format clients use for Anthropic models); the last one of a message's parts
/// marks its block.
Result<ChatInput> read_chat_input(const Request& request);

/// The "unsupported endpoint" error for formats that only translate chat: retryable, so a model with
/// an OpenAI deployment next to this one still serves /v1/completions and /v1/embeddings.
Error unsupported_endpoint(std::string_view provider_type, Endpoint endpoint);

/// A `data:<media type>;base64,<data>` URL split into its parts; nullopt when it is not one.
struct DataUrl {
  std::string media_type;
  std::string data;
};
std::optional<DataUrl> parse_data_url(std::string_view url);

/// Parses tool-call arguments (a JSON string holding an object); an empty string is {}. nullopt when
/// it is not a JSON object.
std::optional<Json> parse_arguments(std::string_view arguments);

}  // namespace sy::providers::chat
