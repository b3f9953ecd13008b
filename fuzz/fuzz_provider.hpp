#pragma once
// The three provider-format targets, shared by every `type:` (wire_format_for): each
// fuzz/<type>_{response,stream,classify}.cpp defines SY_FUZZ_PROVIDER_TYPE and one of
// SY_FUZZ_RESPONSE / SY_FUZZ_STREAM / SY_FUZZ_CLASSIFY, then includes this file.
//
//   response: [request variant byte][upstream 2xx body]         -> WireFormat::decode_response
//   stream:   [request variant + flags byte][split byte][bytes]  -> stream_decoder: feed pieces, finish
//   classify: "<status>\n" "<name>: <value>\n"... "\n" <body>    -> WireFormat::classify_error
//
// The request variant picks the client request the answer belongs to (plain chat, streaming with or
// without the usage chunk, tools and n; completions and embeddings for formats that serve them).
// Stream flag bit 7 rewrites event-stream CRCs (bedrock: see fuzz_event_stream.hpp). Invariant of the
// stream target: feeding the bytes whole or in pieces gives the same frames and outcome (ids and
// timestamps aside), and the same usage when the stream did not fail.
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_event_stream.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/providers/wire_format.hpp"

// Everything below depends on SY_FUZZ_PROVIDER_TYPE and the target kind, so it has internal linkage: the
// replay test (fuzz/replay_main.cpp) links all 18 provider targets into one executable, where shared
// inline definitions with different bodies would be an ODR violation (one format's code for every target).
namespace sy::fuzz {
namespace {

using providers::Headers;
using providers::WireFormat;

inline const WireFormat& provider_format() {
  static const WireFormat* f = [] {
    const WireFormat* w = providers::wire_format_for(SY_FUZZ_PROVIDER_TYPE);
    if (!w) {
      std::fprintf(stderr, "no wire format for %s\n", SY_FUZZ_PROVIDER_TYPE);
      std::abort();
    }
    return w;
  }();
  return *f;
}

/// Chat-only formats never see completions or embeddings answers (encode refuses those endpoints).
inline bool chat_only() {
  std::string_view t = SY_FUZZ_PROVIDER_TYPE;
  return t == "anthropic" || t == "bedrock";
}

inline const Request& request_variant(std::uint8_t v) {
  static const std::vector<std::unique_ptr<Request>> requests = [] {
    const char* bodies[][2] = {
        {"chat", R"({"model":"client-model","messages":[{"role":"user","content":"hi"}]})"},
        {"chat", R"({"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]})"},
        {"chat", R"({"model":"client-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]})"},
        {"chat", R"({"model":"client-model","n":2,"logprobs":true,"max_tokens":5,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":"auto","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})"},
        {"completions", R"({"model":"client-model","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true}})"},
        {"embeddings", R"({"model":"client-model","input":"hello"})"},
    };
    std::vector<std::unique_ptr<Request>> out;
    for (auto& [ep, body] : bodies) {
      Endpoint e = std::string_view(ep) == "chat" ? Endpoint::chat
                   : std::string_view(ep) == "completions" ? Endpoint::completions : Endpoint::embeddings;
      auto r = Request::parse(e, body);
      if (!r) {
        std::fprintf(stderr, "fuzz request variant does not parse: %s\n", r.error().message.c_str());
        std::abort();
      }
      out.push_back(std::move(*r));
    }
    return out;
  }();
  std::size_t n = chat_only() ? 4 : requests.size();
  return *requests[v % n];
}

#if defined(SY_FUZZ_RESPONSE)
inline int fuzz_one(std::string_view in) {
  const Request& req = request_variant(take_byte(in));
  Usage usage;
  auto out = provider_format().decode_response(req, std::string(in), usage);
  if (!out) (void)to_openai_json(out.error());
  return 0;
}
#elif defined(SY_FUZZ_STREAM)
struct StreamRun {
  std::string out;
  bool failed = false;
  ErrorKind kind = ErrorKind::internal;
  std::size_t events = 0;
  Usage usage;
};

inline StreamRun decode_stream(const Request& req, const std::vector<std::string_view>& pieces) {
  StreamRun r;
  auto dec = provider_format().stream_decoder(req);
  for (auto p : pieces) {
    auto st = dec->feed(p, r.out);
    if (!st) {
      r.failed = true;
      r.kind = st.error().kind;
      break;
    }
  }
  if (!r.failed) {
    auto st = dec->finish(r.out);
    if (!st) {
      r.failed = true;
      r.kind = st.error().kind;
    }
  }
  r.events = dec->events();
  r.usage = dec->usage();
  return r;
}

inline int fuzz_one(std::string_view in) {
  std::uint8_t flags = take_byte(in);
  std::uint8_t seed = take_byte(in);
  const Request& req = request_variant(flags & 7);
  std::string bytes(in);
  if (flags & 0x80) fix_crcs(bytes);
  StreamRun split = decode_stream(req, sy::fuzz::split(bytes, seed ? seed : 1));
  StreamRun whole = decode_stream(req, {bytes});
  std::string a = normalise_volatile(split.out), b = normalise_volatile(whole.out);
  SY_FUZZ_CHECK(split.failed == whole.failed && split.kind == whole.kind, a + "\n-- whole --\n" + b);
  SY_FUZZ_CHECK(a == b, a + "\n-- whole --\n" + b);
  SY_FUZZ_CHECK(split.events == whole.events, a);
  // Usage is "seen so far": after a failure a whole feed may have read further than the piece that failed.
  if (split.failed) return 0;
  SY_FUZZ_CHECK(split.usage.prompt_tokens == whole.usage.prompt_tokens &&
                    split.usage.completion_tokens == whole.usage.completion_tokens &&
                    split.usage.cached_tokens == whole.usage.cached_tokens && split.usage.known == whole.usage.known,
                a);
  return 0;
}
#elif defined(SY_FUZZ_CLASSIFY)
inline int fuzz_one(std::string_view in) {
  // "<status>\n" then header lines up to an empty line, then the body.
  std::size_t eol = in.find('\n');
  std::string_view status_text = in.substr(0, eol);
  int status = 0;
  std::from_chars(status_text.data(), status_text.data() + status_text.size(), status);
  status = ((status % 1000) + 1000) % 1000;  // Beast parses three digits
  in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
  Headers headers;
  while (!in.empty()) {
    std::size_t e = in.find('\n');
    std::string_view line = in.substr(0, e);
    in.remove_prefix(e == std::string_view::npos ? in.size() : e + 1);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    headers.push_back({std::string(name), std::string(value)});
  }
  Error e = provider_format().classify_error(status, headers, in);
  (void)to_openai_json(e);
  (void)http_status(e);
  (void)is_retryable(e.kind);
  return 0;
}
#else
#error "define SY_FUZZ_RESPONSE, SY_FUZZ_STREAM or SY_FUZZ_CLASSIFY"
#endif

}  // namespace
}  // namespace sy::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sy::fuzz::fuzz_one(sy::fuzz::as_view(data, size));
}
