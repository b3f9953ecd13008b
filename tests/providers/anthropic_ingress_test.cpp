// Anthropic-format ingress: golden files in tests/testdata/anthropic/ingress/.
#include "switchyard/providers/anthropic_ingress.hpp"

#include "providers/golden.hpp"

namespace sy::providers {
namespace {

using golden::Json;
namespace ai = anthropic_ingress;

// Anthropic SSE text -> [{"event": name, "data": {...}}].
Json parse_events(std::string_view sse) {
  Json events = Json::array();
  SseParser parser;
  parser.feed(sse, [&](std::string_view event, std::string_view data) {
    events.push_back(Json{{"event", std::string(event)}, {"data", Json::parse(data)}});
  });
  EXPECT_FALSE(parser.has_partial()) << "unterminated event";
  return events;
}

TEST(AnthropicIngressTest, TranslatesRequestsAsGoldenFilesSay) {
  for (const auto& file : golden::cases(golden::testdata("anthropic/ingress/requests"), ".json")) {
    SCOPED_TRACE(file.filename().string());
    Json c = Json::parse(golden::read_file(file));
    auto out = ai::to_openai_request(c["anthropic"].dump());
    Json actual = out.ok() ? Json::parse(*out) : Json{{"error", golden::error_json(out.error())}};
    if (golden::updating()) {
      c["expect"] = actual;
      golden::write_file(file, c.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(golden::same_json(c["expect"], actual));
    if (out.ok()) {  // what comes out is a request the proxy accepts
      auto parsed = Request::parse(Endpoint::chat, *out);
      EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
    }
  }
}

TEST(AnthropicIngressTest, TranslatesResponsesAsGoldenFilesSay) {
  for (const auto& file : golden::cases(golden::testdata("anthropic/ingress/responses"), ".json")) {
    SCOPED_TRACE(file.filename().string());
    Json c = Json::parse(golden::read_file(file));
    auto out = ai::to_anthropic_response(c["openai"].dump());
    Json actual = out.ok() ? Json::parse(*out) : Json{{"error", golden::error_json(out.error())}};
    if (golden::updating()) {
      c["expect"] = actual;
      golden::write_file(file, c.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(golden::same_json(c["expect"], actual));
  }
}

TEST(AnthropicIngressTest, TranslatesStreamsAsGoldenFilesSay) {
  auto dir = golden::testdata("anthropic/ingress/streams");
  for (const auto& file : golden::cases(dir, ".sse")) {
    std::string name = file.stem().string();
    SCOPED_TRACE(name);
    std::string input = golden::read_file(file);
    Json events;
    for (size_t step : {input.size(), size_t{1}, size_t{9}}) {
      ai::StreamTranslator t("client-model");
      std::string out;
      for (size_t at = 0; at < input.size(); at += step) ASSERT_TRUE(t.feed(std::string_view(input).substr(at, step), out).ok());
      t.finish(out);
      EXPECT_TRUE(t.finished());
      Json got = parse_events(out);
      if (step == input.size()) events = got;
      else EXPECT_TRUE(golden::same_json(events, got));
    }
    auto expect_file = dir / (name + ".expect.json");
    if (golden::updating()) {
      golden::write_file(expect_file, Json{{"events", events}}.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(golden::same_json(Json::parse(golden::read_file(expect_file))["events"], events));
  }
}

TEST(AnthropicIngressTest, StreamWithoutDoneIsClosedByFinish) {
  ai::StreamTranslator t("m");
  std::string out;
  ASSERT_TRUE(t.feed("data: {\"id\":\"c1\",\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n", out).ok());
  EXPECT_FALSE(t.finished());
  t.finish(out);
  Json events = parse_events(out);
  ASSERT_GE(events.size(), 5u);
  EXPECT_EQ(events.back()["event"], "message_stop");
  EXPECT_EQ(events[events.size() - 2]["data"]["delta"]["stop_reason"], "max_tokens");
}

TEST(AnthropicIngressTest, MalformedChunkIsAnError) {
  ai::StreamTranslator t("m");
  std::string out;
  EXPECT_FALSE(t.feed("data: {not json\n\n", out).ok());
}

TEST(AnthropicIngressTest, CachedTokensBeyondThePromptDoNotOverflow) {
  // Found by fuzzing: prompt_tokens - cached_tokens overflowed int64.
  auto out = ai::to_anthropic_response(
      R"({"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":-9223372036854775807,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":9223372036854775807}}})");
  ASSERT_TRUE(out.ok());
  auto j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["usage"]["input_tokens"], 0);
  EXPECT_EQ(j["usage"]["cache_read_input_tokens"], 0);
}

TEST(AnthropicIngressTest, ErrorsTakeTheirTypeFromTheStatus) {
  auto body = Json::parse(ai::to_anthropic_error(R"({"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})", 429));
  EXPECT_TRUE(golden::same_json(Json{{"type", "error"}, {"error", {{"type", "rate_limit_error"}, {"message", "slow down"}}}}, body));
  Error e = Error::make(ErrorKind::unavailable, "no deployment available");
  EXPECT_EQ(Json::parse(ai::to_anthropic_error(e))["error"]["type"], "overloaded_error");
  Error bad = Error::bad_request("'messages': expected an array", "messages");
  EXPECT_EQ(Json::parse(ai::to_anthropic_error(bad))["error"]["type"], "invalid_request_error");
  Error auth = Error::make(ErrorKind::auth, "upstream key refused");
  EXPECT_EQ(Json::parse(ai::to_anthropic_error(auth))["error"]["type"], "api_error");  // 502: our fault, not the caller's
  std::string frame = ai::anthropic_error_event(Error::make(ErrorKind::server_error, "upstream died"));
  EXPECT_TRUE(frame.starts_with("event: error\ndata: {\"type\":\"error\""));
  EXPECT_TRUE(frame.ends_with("\n\n"));
}

}  // namespace
}  // namespace sy::providers
