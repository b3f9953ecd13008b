#include "switchyard/tokenize/token_counter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenize/rank_files.hpp"

namespace sy::tokenize {
namespace {

TEST(EncodingForModelTest, MapsOpenAiFamiliesToTheirEncodings) {
  struct Case {
    std::string_view model;
    std::optional<Encoding> want;
  };
  const Case cases[] = {
      {"gpt-4o", Encoding::o200k_base},
      {"gpt-4o-mini-2024-07-18", Encoding::o200k_base},
      {"chatgpt-4o-latest", Encoding::o200k_base},
      {"gpt-4.1-nano", Encoding::o200k_base},
      {"gpt-4.5-preview", Encoding::o200k_base},
      {"gpt-5", Encoding::o200k_base},
      {"gpt-5.1-codex", Encoding::o200k_base},
      {"o1-preview", Encoding::o200k_base},
      {"o3-mini", Encoding::o200k_base},
      {"o4-mini-high", Encoding::o200k_base},
      {"gpt-oss-120b", Encoding::o200k_base},
      {"gpt-4", Encoding::cl100k_base},
      {"gpt-4-turbo-2024-04-09", Encoding::cl100k_base},
      {"gpt-4-32k", Encoding::cl100k_base},
      {"gpt-3.5-turbo", Encoding::cl100k_base},
      {"gpt-35-turbo", Encoding::cl100k_base},
      {"text-embedding-3-small", Encoding::cl100k_base},
      {"text-embedding-ada-002", Encoding::cl100k_base},
      {"openai/gpt-4o", Encoding::o200k_base},
      {"ft:gpt-4o-mini-2024-07-18:acme::abc123", Encoding::o200k_base},
      {"ft:gpt-3.5-turbo-0125:acme::xyz", Encoding::cl100k_base},
      {"claude-3-5-sonnet-20241022", std::nullopt},
      {"llama-3.1-70b-instruct", std::nullopt},
      {"mistral-large-latest", std::nullopt},
      {"o1x", std::nullopt},
      {"gpt-4x", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(encoding_for_model(c.model), c.want) << c.model;
}

TEST(TokenCounterTest, RunsOnTheEstimateWithoutRankFiles) {
  const auto counter = TokenCounter::load("/nonexistent/switchyard-models");
  EXPECT_TRUE(counter->estimates_only());
  EXPECT_FALSE(counter->has(Encoding::o200k_base));
  ASSERT_EQ(counter->load_errors().size(), 2u);
  EXPECT_NE(counter->load_errors()[0].find("fetch-tokenizers.sh"), std::string::npos);

  const ModelTokenCounter m = counter->for_model("gpt-4o");
  EXPECT_EQ(m.method(), CountMethod::estimate);
  EXPECT_FALSE(m.exact());
  EXPECT_EQ(m.count("The quick brown fox jumps over the lazy dog."), estimate_tokens("The quick brown fox jumps over the lazy dog."));
  EXPECT_GT(m.count("The quick brown fox jumps over the lazy dog."), 0u);
}

TEST(TokenCounterTest, ChatFramingAddsThreePerMessageAndThreeForTheReply) {
  const TokenCounter counter(nullptr, nullptr);
  const ChatMessage messages[] = {{"system", "be brief"}, {"user", "hi", "alice"}};
  const ModelTokenCounter m = counter.for_model("some-model");
  const std::size_t text = m.count("system") + m.count("be brief") + m.count("user") + m.count("hi") + m.count("alice");
  EXPECT_EQ(m.count_chat(messages), text + 3 * 2 + 1 + 3);
  EXPECT_EQ(counter.count_chat("some-model", std::span<const ChatMessage>{}), 3u);
}

TEST(TokenCounterTest, PicksExactEncodingsAndTheCl100kProxy) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  SY_REQUIRE_RANKS(cl100k, Encoding::cl100k_base);
  const TokenCounter counter(o200k, cl100k);
  EXPECT_EQ(counter.for_model("gpt-4o-mini").method(), CountMethod::o200k_base);
  EXPECT_EQ(counter.for_model("gpt-4-turbo").method(), CountMethod::cl100k_base);
  EXPECT_TRUE(counter.for_model("gpt-4-turbo").exact());
  EXPECT_EQ(counter.for_model("claude-sonnet-4").method(), CountMethod::cl100k_proxy);
  EXPECT_FALSE(counter.for_model("claude-sonnet-4").exact());
  // "hello world": o200k [24912, 2375], cl100k [15339, 1917]
  EXPECT_EQ(counter.count("gpt-4o", "hello world"), 2u);

  const TokenCounter only_cl100k(nullptr, cl100k);
  EXPECT_EQ(only_cl100k.for_model("gpt-4o").method(), CountMethod::estimate);
  EXPECT_EQ(only_cl100k.for_model("gpt-4").method(), CountMethod::cl100k_base);
}

// The example from OpenAI's cookbook ("How to count tokens with tiktoken"), whose
// num_tokens_from_messages() reports 129 prompt tokens for gpt-3.5-turbo / gpt-4 and 124 for gpt-4o.
TEST(TokenCounterTest, MatchesOpenAiCookbookChatExample) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  SY_REQUIRE_RANKS(cl100k, Encoding::cl100k_base);
  const TokenCounter counter(o200k, cl100k);
  const ChatMessage messages[] = {
      {"system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
      {"system", "New synergies will help drive top-line growth.", "example_user"},
      {"system", "Things working well together will increase revenue.", "example_assistant"},
      {"system",
       "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
       "example_user"},
      {"system", "Let's talk later when we're less busy about how to do better.", "example_assistant"},
      {"user", "This late pivot means we don't have time to boil the ocean for the client deliverable."},
  };
  EXPECT_EQ(counter.count_chat("gpt-4-0613", messages), 129u);
  EXPECT_EQ(counter.count_chat("gpt-3.5-turbo", messages), 129u);
  EXPECT_EQ(counter.count_chat("gpt-4o", messages), 124u);
  EXPECT_EQ(counter.count_chat("gpt-4o-mini", messages), 124u);
}

TEST(TokenCounterTest, CountsRequestMessageTexts) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  const TokenCounter counter(o200k, nullptr);
  const std::vector<MessageText> messages = {{"user", "hello world", false}};
  // 3 (reply) + 3 (message) + 1 ("user") + 2 ("hello world")
  EXPECT_EQ(counter.count_chat("gpt-4o", messages), 9u);
}

// The bound that lets rules and the dispatcher skip tokenising must hold for every method and text.
TEST(TokenCounterTest, ChatUpperBoundIsNeverBelowTheCount) {
  const std::vector<std::string> texts = {
      "", "a", "hello world", "   \n\n\t  ", "1234567890123", "{\"json\": [1, 2, 3]}", "x = a[i] * b[j] + 42;",
      "Grüße aus München — ça va?", "日本語のテキストです。漢字とかな。", "Привет, как дела?", "🙂🙃🚀 emoji 👍🏽",
      std::string(3000, 'a'), std::string(500, ' ') + "end"};
  std::vector<std::shared_ptr<const TokenCounter>> counters = {std::make_shared<const TokenCounter>(nullptr, nullptr)};
  auto o200k = testing::rank_file_tokenizer(Encoding::o200k_base);
  auto cl100k = testing::rank_file_tokenizer(Encoding::cl100k_base);
  if (o200k || cl100k) counters.push_back(std::make_shared<const TokenCounter>(o200k, cl100k));
  for (const auto& counter : counters) {
    for (const std::string& t : texts) {
      const std::vector<MessageText> one = {{"user", t, false}};
      const std::vector<MessageText> two = {{"system", t, false}, {"user", t + t, false}};
      EXPECT_LE(counter->count_chat("gpt-4o", one), chat_tokens_upper_bound(one)) << t;
      EXPECT_LE(counter->count_chat("gpt-4o", two), chat_tokens_upper_bound(two)) << t;
      EXPECT_LE(counter->count_chat("claude-sonnet-4", two), chat_tokens_upper_bound(two)) << t;
    }
  }
  EXPECT_EQ(chat_tokens_upper_bound(std::vector<MessageText>{}), 3u);
}

}  // namespace
}  // namespace sy::tokenize
