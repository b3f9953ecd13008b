// Micro-benchmarks of the proxy core's per-request and per-chunk work (Google Benchmark):
// request parse (validation scan + field extraction), model rewrite (forward_body), the JSON scanner
// on requests and upstream answers, message text extraction (what routers read), SSE parsing and the
// OpenAI stream decoder. Bodies are built in-process: small (192 B, the end-to-end benchmark's body),
// medium (a ~4 KiB multi-turn chat with tools) and large (1 MiB).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "providers/openai/openai_format.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/providers/sse.hpp"

namespace {

std::string pad_to(std::string prefix, std::size_t total, std::string_view suffix) {
  const std::string filler = " The quick brown fox jumps over the lazy dog while the router decides.";
  while (prefix.size() + suffix.size() < total) prefix += filler;
  prefix.resize(total - suffix.size());
  prefix += suffix;
  return prefix;
}

const std::string& small_body() {
  static const std::string b = pad_to(
      R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":"Say hello in one short sentence, please.)",
      192, R"("}],"max_tokens":64,"temperature":0.2})");
  return b;
}

const std::string& medium_body() {
  static const std::string b = [] {
    std::string s = R"({"model":"gpt-4o","stream":false,"temperature":0.7,"max_completion_tokens":512,)"
                    R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city",)"
                    R"("parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string",)"
                    R"("enum":["c","f"]}},"required":["city"]}}}],"messages":[)"
                    R"({"role":"system","content":"You are a careful assistant. Answer briefly and cite sources when you can."})";
    for (int i = 0; i < 8; ++i) {
      s += R"(,{"role":"user","content":"Question )" + std::to_string(i) +
           R"(: explain how a reverse proxy keeps connections alive to its upstreams, and why \"keep-alive\" matters for latency."})";
      s += R"(,{"role":"assistant","content":[{"type":"text","text":"Answer )" + std::to_string(i) +
           R"(: it reuses TCP (and TLS) connections, so each request skips the handshakes.\nThat saves a round trip or two."}]})";
    }
    s += R"(],"response_format":{"type":"text"},"user":"bench-user-42"})";
    return s;
  }();
  return b;
}

const std::string& large_body() {
  static const std::string b = pad_to(
      R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":"Summarise this document.)",
      1 << 20, R"("}],"max_tokens":64,"temperature":0.2})");
  return b;
}

const std::string& body_for(int which) {
  return which == 0 ? small_body() : which == 1 ? medium_body() : large_body();
}

// The canned upstream answer of the end-to-end benchmark (bench/stub/chat_completion.json).
const std::string kCompletion =
    R"({"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion","created":1700000000,)"
    R"("model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is )"
    R"(a canned answer from the benchmark stub. It is long enough to look like a short reply from a real model, )"
    R"(about as long as the one measured.","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":13,"completion_tokens":33,"total_tokens":46},"system_fingerprint":"fp_bench00000"})";

// One streamed event as OpenAI sends it, and a whole stream of `n` of them (plus finish, usage, [DONE]).
std::string sse_event(int i) {
  return R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",)"
         R"("system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"token)" +
         std::to_string(i) + R"( "},"logprobs":null,"finish_reason":null}]})" "\n\n";
}

std::vector<std::string> sse_stream(int n) {
  std::vector<std::string> events;
  for (int i = 0; i < n; ++i) events.push_back(sse_event(i));
  events.push_back(
      R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",)"
      R"("choices":[],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}})" "\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::size_t total_size(const std::vector<std::string>& v) {
  std::size_t n = 0;
  for (const auto& s : v) n += s.size();
  return n;
}

const char* const kSizeNames[] = {"small", "medium", "large"};

void set_label(benchmark::State& state, int which) {
  state.SetLabel(std::string(kSizeNames[which]) + " " + std::to_string(body_for(which).size()) + " B");
}

// --- Request -------------------------------------------------------------------------------------

// Baseline for the parse benchmarks below: they copy the body first, as the server hands it over.
void BM_BodyCopy(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& body = body_for(which);
  for (auto _ : state) {
    std::string copy = body;
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  set_label(state, which);
}
BENCHMARK(BM_BodyCopy)->DenseRange(0, 2);

void BM_RequestParse(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& body = body_for(which);
  for (auto _ : state) {
    auto r = sy::Request::parse(sy::Endpoint::chat, body);
    if (!r) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  set_label(state, which);
}
BENCHMARK(BM_RequestParse)->DenseRange(0, 2);

// The model rewrite every forwarded request gets (plus the stream_options edit a stream gets).
void BM_ForwardBody(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const bool stream_edit = state.range(1) != 0;
  auto r = sy::Request::parse(sy::Endpoint::chat, body_for(which));
  if (!r) {
    state.SkipWithError("parse failed");
    return;
  }
  const sy::Request& req = **r;
  for (auto _ : state) {
    std::vector<sy::json::Edit> extra;
    if (stream_edit) extra.push_back({"stream_options", std::string(R"({"include_usage":true})")});
    sy::Payload out = req.forward_body("gpt-4o-mini-2024-07-18", std::move(extra));
    benchmark::DoNotOptimize(out.size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.body().size()));
  set_label(state, which);
}
BENCHMARK(BM_ForwardBody)->ArgsProduct({{0, 1, 2}, {0, 1}});

// What routers read: every message's text, joined (computed once per request, on first use).
void BM_RequestTexts(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& body = body_for(which);
  for (auto _ : state) {
    auto r = sy::Request::parse(sy::Endpoint::chat, body);
    if (!r) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize((*r)->all_text().size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  set_label(state, which);
}
BENCHMARK(BM_RequestTexts)->DenseRange(0, 2);

// --- JSON scanner ----------------------------------------------------------------------------------

void BM_ScanObject(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string& body = which == 3 ? kCompletion : body_for(which);
  for (auto _ : state) {
    auto o = sy::json::scan_object(body);
    benchmark::DoNotOptimize(o);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetLabel(which == 3 ? "upstream chat.completion " + std::to_string(body.size()) + " B"
                            : std::string(kSizeNames[which]) + " request " + std::to_string(body.size()) + " B");
}
BENCHMARK(BM_ScanObject)->DenseRange(0, 3);

// --- Streaming -------------------------------------------------------------------------------------

// Arg 0: one feed per event (how upstream reads usually arrive); arg 1: 64-byte pieces (worst case).
void BM_SseParser(benchmark::State& state) {
  const auto events = sse_stream(20);
  std::string whole;
  for (const auto& e : events) whole += e;
  const bool split = state.range(0) != 0;
  std::size_t seen = 0;
  for (auto _ : state) {
    sy::providers::SseParser parser;
    auto on_event = [&](std::string_view, std::string_view data) { seen += data.size(); };
    if (split) {
      for (std::size_t at = 0; at < whole.size(); at += 64) parser.feed(std::string_view(whole).substr(at, 64), on_event);
    } else {
      for (const auto& e : events) parser.feed(e, on_event);
    }
    benchmark::DoNotOptimize(seen);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * whole.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events.size()));
  state.SetLabel(split ? "64-byte pieces" : "one feed per event");
}
BENCHMARK(BM_SseParser)->Arg(0)->Arg(1);

// The relay's per-event work: parse, usage sniffing, re-framing into `out`, the usage chunk dropped.
void BM_OpenAIStreamDecoder(benchmark::State& state) {
  const auto events = sse_stream(20);
  const std::size_t bytes = total_size(events);
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    sy::providers::OpenAIStreamDecoder decoder(/*client_wants_usage=*/false);
    for (const auto& e : events) {
      out.clear();
      auto st = decoder.feed(e, out);
      benchmark::DoNotOptimize(st);
      benchmark::DoNotOptimize(out.data());
    }
    out.clear();
    auto st = decoder.finish(out);
    if (!st) state.SkipWithError("stream did not finish");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events.size()));
  state.SetLabel("20 content events + usage + [DONE]");
}
BENCHMARK(BM_OpenAIStreamDecoder);

}  // namespace
