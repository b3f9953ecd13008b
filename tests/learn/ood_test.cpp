// Issue #21: heterogeneous labels (graded judge scores, preference pairs), per-source weights, the
// structure features, the prior / domain-shift fallback, and the leave-one-dataset-out splits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <utility>

#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/evaluation.hpp"
#include "switchyard/learn/features.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/trainer.hpp"
#include "learn/temp_dir.hpp"

namespace sy::learn {
namespace {

namespace fs = std::filesystem;


// --- label types -------------------------------------------------------------------------------------

TEST(LabelTypesTest, JudgeScoresOnOneToTenAreNormalised) {
  TempDir d;
  const std::string f = d.write("judge.jsonl",
                                "{\"prompt\":\"a\",\"scores\":{\"strong\":10,\"weak\":1}}\n"
                                "{\"prompt\":\"b\",\"scores\":{\"strong\":7,\"weak\":4}}\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->examples.size(), 2u);
  EXPECT_FLOAT_EQ(data->examples[0].quality[0], 1.0f);
  EXPECT_FLOAT_EQ(data->examples[0].quality[1], 0.0f);
  EXPECT_FLOAT_EQ(data->examples[1].quality[0], 6.0f / 9.0f);
  EXPECT_FLOAT_EQ(data->examples[1].quality[1], 3.0f / 9.0f);
  EXPECT_FALSE(data->examples[0].preference);
}

TEST(LabelTypesTest, GradedCsvAndExplicitScoreRange) {
  TempDir d;
  // 0..100 in a CSV; an explicit range per JSONL line wins over the guess.
  const std::string c = d.write("g.csv", "prompt,strong,weak\nx,100,50\ny,0,25\n");
  auto data = load_dataset({c}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_FLOAT_EQ(data->examples[0].quality[0], 1.0f);
  EXPECT_FLOAT_EQ(data->examples[0].quality[1], 0.5f);
  EXPECT_FLOAT_EQ(data->examples[1].quality[1], 0.25f);
  const std::string j = d.write("r.jsonl", "{\"prompt\":\"x\",\"scores\":{\"strong\":4,\"weak\":2},\"score_range\":[0,5]}\n");
  auto r = load_dataset({j}, LoadOptions{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FLOAT_EQ(r->examples[0].quality[0], 0.8f);
  EXPECT_FLOAT_EQ(r->examples[0].quality[1], 0.4f);
  // A scale that is none of 1-10, 0-10, 0-100 is refused with the file's name.
  const std::string bad = d.write("bad.csv", "prompt,strong,weak\nx,1000,2\n");
  auto b = load_dataset({bad}, LoadOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("bad.csv"), std::string::npos);
}

TEST(LabelTypesTest, PreferencePairsBecomeRelativeLabels) {
  TempDir d;
  const std::string f = d.write("arena.jsonl",
                                "{\"prompt\":\"p1\",\"model_a\":\"strong\",\"model_b\":\"weak\",\"winner\":\"model_a\"}\n"
                                "{\"prompt\":\"p2\",\"model_a\":\"weak\",\"model_b\":\"strong\",\"winner\":\"model_a\"}\n"
                                "{\"prompt\":\"p3\",\"model_a\":\"strong\",\"model_b\":\"weak\",\"winner\":\"tie\"}\n"
                                "{\"prompt\":\"p4\",\"model_a\":\"strong\",\"model_b\":\"other\",\"winner\":\"tie (bothbad)\"}\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->models, (std::vector<std::string>{"strong", "weak", "other"}));
  const auto& e = data->examples;
  ASSERT_EQ(e.size(), 4u);
  for (const Example& x : e) EXPECT_TRUE(x.preference);
  EXPECT_EQ(e[0].quality[0], 1.0f);
  EXPECT_EQ(e[0].quality[1], 0.0f);
  EXPECT_EQ(e[1].quality[0], 0.0f);
  EXPECT_EQ(e[1].quality[1], 1.0f);
  EXPECT_EQ(e[2].quality[0], 0.5f);
  EXPECT_EQ(e[2].quality[1], 0.5f);
  EXPECT_TRUE(std::isnan(e[0].quality[2]));  // not in the pair: unknown
  EXPECT_TRUE(std::isnan(e[3].quality[1]));
  EXPECT_EQ(e[3].quality[0], 0.0f);
  // A winner that is not a known value names the line.
  const std::string bad = d.write("bad.jsonl", "{\"prompt\":\"p\",\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"c\"}\n");
  auto b = load_dataset({bad}, LoadOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("bad.jsonl:1"), std::string::npos);
}

/// Prompts about integrals/proofs need the strong model; the rest do not. `rows` of each kind.
void add_topic_rows(Dataset& d, int reps, float hard_strong, float hard_weak, const std::string& source, bool preference) {
  const char* hard[] = {"compute the integral of", "write a proof that", "evaluate the integral", "give a proof of"};
  const char* easy[] = {"what colour is the", "name the capital of", "translate hello to", "spell the word"};
  const char* things[] = {"x squared", "the sky", "france", "the series", "a cat", "sin x", "primes", "banana"};
  for (int rep = 0; rep < reps; ++rep)
    for (const char* t : things) {
      for (const char* h : hard) {
        Example e{std::string(h) + " " + t + " #" + std::to_string(rep), {hard_weak, hard_strong}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, "hard"};
        e.source = source;
        e.preference = preference;
        d.examples.push_back(std::move(e));
      }
      for (const char* x : easy) {
        Example e{std::string(x) + " " + t + " #" + std::to_string(rep), {0.5f, 0.5f}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, "easy"};
        if (!preference) e.quality = {1, 1};
        e.source = source;
        e.preference = preference;
        d.examples.push_back(std::move(e));
      }
    }
}

TEST(LabelTypesTest, PreferencePairsTrainTheRouteHeadOnly) {
  Dataset d;
  d.models = {"weak", "strong"};
  add_topic_rows(d, 4, 1, 0, "arena", /*preference=*/true);
  TrainOptions o;
  o.features.hash_bits = 14;
  o.strong = 1;
  o.weak = 0;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  // Targets: 1 where the strong model won, 0.5 on ties.
  EXPECT_GT((*m)->score("please compute the integral of cos x"), 0.7);
  EXPECT_GT((*m)->score("please compute the integral of cos x"), (*m)->score("please name the capital of spain") + 0.2);
  // Quality heads saw no absolute labels: their predictions stay at the (unknown → 0.5) default bias.
  auto q = (*m)->predict_quality("please compute the integral of cos x");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_NEAR(q[0], q[1], 0.05);
}

TEST(LabelTypesTest, BinaryGradedAndPreferenceMixInOneTrainingSet) {
  TempDir d;
  d.write("mix/binary.csv", "prompt,strong,weak\n\"prove that the integral converges\",True,False\n\"name the capital\",True,True\n");
  d.write("mix/judge.jsonl", "{\"prompt\":\"derive the integral of x\",\"scores\":{\"strong\":9,\"weak\":3}}\n");
  d.write("mix/pairs.jsonl",
          "{\"prompt\":\"spell the word cat\",\"model_a\":\"strong\",\"model_b\":\"weak\",\"winner\":\"tie\"}\n");
  auto data = load_dataset({d.path("mix")}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->examples.size(), 4u);
  TrainOptions o;
  o.features.hash_bits = 12;
  EXPECT_TRUE(train_router(*data, {}, {}, o).ok());
}

// --- sources and weights -------------------------------------------------------------------------------

TEST(SourceWeightsTest, SourceNamesFromArguments) {
  TempDir d;
  d.write("routellm/mmlu/responses/mmlu_a.csv", "prompt,s,w\nx,True,False\n");
  d.write("routellm/gsm8k/gsm8k_responses.csv", "prompt,s,w\ny,True,True\n");
  EXPECT_EQ(source_name(d.path("routellm/mmlu/responses")), "mmlu");
  EXPECT_EQ(source_name(d.path("routellm/gsm8k/gsm8k_responses.csv")), "gsm8k_responses");
  EXPECT_EQ(source_name(d.path("routellm/gsm8k")), "gsm8k");
  std::string path;
  EXPECT_EQ(source_name("chat=" + d.path("x.jsonl"), &path), "chat");
  EXPECT_EQ(path, d.path("x.jsonl"));
  auto found = discover_datasets(d.path());
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].substr(0, 6), "gsm8k=");
  EXPECT_EQ((*found)[1].substr(0, 5), "mmlu=");
  auto data = load_dataset(*found, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->examples[0].source, "gsm8k");
  EXPECT_EQ(data->examples[1].source, "mmlu");
}

TEST(SourceWeightsTest, RowWeightsSourceWeightsAndBalancing) {
  TempDir d;
  d.write("big/a.csv", "prompt,s,w,weight\nx1,True,False,2\nx2,True,False,1\nx3,True,True,1\n");
  d.write("small/b.jsonl", "{\"prompt\":\"y\",\"scores\":{\"s\":1,\"w\":0}}\n");
  LoadOptions lo;
  auto plain = load_dataset({d.path("big"), d.path("small")}, lo);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->models, (std::vector<std::string>{"s", "w"}));  // the weight column is not a model
  EXPECT_FLOAT_EQ(plain->examples[0].weight, 2.0f);
  EXPECT_FLOAT_EQ(plain->examples[3].weight, 1.0f);
  lo.balance_sources = true;
  lo.source_weights = {{"small", 3.0}};
  auto w = load_dataset({d.path("big"), d.path("small")}, lo);
  ASSERT_TRUE(w.ok());
  // Total 5 over 2 sources: each source carries 2.5 before its own multiplier.
  EXPECT_FLOAT_EQ(w->examples[0].weight + w->examples[1].weight + w->examples[2].weight, 2.5f);
  EXPECT_FLOAT_EQ(w->examples[3].weight, 2.5f * 3.0f);
}

TEST(SourceWeightsTest, HeavierSourceWinsAConflict) {
  // Two sources disagree about the same prompts; the weighted one decides the route head.
  Dataset d;
  d.models = {"weak", "strong"};
  add_topic_rows(d, 3, 1, 0, "says-hard", false);
  add_topic_rows(d, 3, 1, 1, "says-easy", false);
  for (Example& e : d.examples) e.weight = e.source == "says-hard" ? 5.0f : 0.2f;
  TrainOptions o;
  o.features.hash_bits = 14;
  o.quality_heads = false;
  auto hard = train_router(d, {}, {}, o);
  for (Example& e : d.examples) e.weight = e.source == "says-hard" ? 0.2f : 5.0f;
  auto easy = train_router(d, {}, {}, o);
  ASSERT_TRUE(hard.ok() && easy.ok());
  const std::string p = "please compute the integral of cos x";
  EXPECT_GT((*hard)->score(p), (*easy)->score(p) + 0.1);
}

// --- structure features ----------------------------------------------------------------------------------

TEST(StructureFeaturesTest, DetectsTurnsCodeMathAndRequestKind) {
  std::array<float, kStructureFeatures> f{};
  FeatureExtractor::structure_features("User: hi\nAssistant: hello\nUser: Write a detailed essay about Rome. It must be "
                                       "at least 500 words.",
                                       f);
  EXPECT_NEAR(f[0], std::log1p(3.0f), 1e-6);  // three turns
  EXPECT_GT(f[3], 0);                          // constraints: must, least
  EXPECT_EQ(f[7], 1.0f);                       // ask_create: "Write"
  EXPECT_EQ(f[8], 1.0f);                       // wants long output
  FeatureExtractor::structure_features("```\nint main() {}\n```\nWhy does 3x + 4 = 10 fail? Answer in one word?", f);
  EXPECT_GT(f[1], 0);        // code lines
  EXPECT_GT(f[2], 0);        // math expressions
  EXPECT_EQ(f[5], 1.0f);     // ask_explain: "Why"
  EXPECT_EQ(f[9], 1.0f);     // wants short output: "one word"
  EXPECT_EQ(f[10], 1.0f);    // ends with a question mark
  // Off in the config: the block is zero, so old models keep their meaning.
  std::array<float, kDenseFeatures> dense{};
  FeatureExtractor::dense_features("User: hi\nAssistant: hello", dense, /*structure=*/false);
  for (std::size_t j = kBaseDenseFeatures; j < kDenseFeatures; ++j) EXPECT_EQ(dense[j], 0.0f);
  EXPECT_EQ(dense_feature_names()[kBaseDenseFeatures], "log_turns");
}

TEST(StructureFeaturesTest, EveryListedWordIsFoundAndOthersAreNot) {
  // The word lists of structure_features, looked up through one table: each word sets its feature.
  struct Case {
    std::vector<std::string> words;
    std::size_t feature;
  };
  const std::vector<Case> cases = {
      {{"what", "who", "when", "where", "which", "name"}, 4},
      {{"why", "how", "explain", "describe", "discuss", "compare", "analyze", "analyse", "evaluate"}, 5},
      {{"prove", "derive", "calculate", "compute", "solve", "find", "determine", "show", "simplify"}, 6},
      {{"write", "create", "generate", "draft", "compose", "implement", "design", "build", "translate", "summarize"}, 7},
      {{"essay", "detailed", "detail", "comprehensive", "thorough", "paragraphs", "elaborate", "story", "article"}, 8},
      {{"briefly", "brief", "short", "concise", "concisely", "tldr"}, 9},
  };
  std::array<float, kStructureFeatures> f{};
  for (const auto& c : cases) {
    for (const auto& w : c.words) {
      FeatureExtractor::structure_features(w + " the thing", f);
      EXPECT_EQ(f[c.feature], 1.0f) << w;
      FeatureExtractor::structure_features(w + "x the thing", f);  // a longer word is another word
      EXPECT_EQ(f[c.feature], 0.0f) << w << "x";
    }
  }
  for (const char* w : {"must", "should", "exactly", "least", "most", "only", "without", "ensure", "format", "avoid",
                        "never", "always"}) {
    FeatureExtractor::structure_features(std::string("ok ") + w, f);
    EXPECT_NEAR(f[3], std::log1p(1.0f), 1e-6) << w;
  }
  for (const char* w : {"User", "assistant", "Human", "AI", "system", "Q", "A", "question"}) {
    FeatureExtractor::structure_features(std::string(w) + ": hi", f);
    EXPECT_NEAR(f[0], std::log1p(1.0f), 1e-6) << w;
  }
  FeatureExtractor::structure_features("Robot: hi", f);
  EXPECT_EQ(f[0], 0.0f);
}

TEST(StructureFeaturesTest, MathExpressionsAndSentenceStarts) {
  // An operand, an operator and a digit, with at most one space on either side; LaTeX commands.
  const std::vector<std::pair<std::string, int>> math = {
      {"x+1", 1},          {"x +1", 1},        {"x + 1", 1},       {"x  + 1", 0},   {"x +  1", 0},
      {"+1 2", 0},         {"1+", 0},          {"a\\b", 0},        {"\\frac{1}{2}", 1}, {"a\\", 0},
      {"\\fr", 1},         {"3x + 4 = 10", 2}, {"2^5 * 3 / 7 - 1", 4}, {"a-b", 0},    {"a - 9x", 1},
      {"\xc3\xa9+1", 0},   {"_+1", 0},         {"x+ 1.", 1},       {"x<2>3", 2},    {"1 =2 = 3", 2}};
  std::array<float, kStructureFeatures> f{};
  for (const auto& [text, count] : math) {
    FeatureExtractor::structure_features(text, f);
    EXPECT_EQ(f[2], std::log1p(static_cast<float>(count))) << text;
  }
  // A question word counts at the start of the text or after . ? ! or a newline only.
  const std::vector<std::pair<std::string, bool>> starts = {
      {"Hello. What is", true}, {"hello what is", false}, {"ok!\nwhat", true}, {"a, what", false},
      {"x?what", true},         {"x;what", false},        {"What", true}};
  for (const auto& [text, factoid] : starts) {
    FeatureExtractor::structure_features(text, f);
    EXPECT_EQ(f[4], factoid ? 1.0f : 0.0f) << text;
  }
}

// --- prior mixing and the shift fallback ---------------------------------------------------------------

Dataset topic_data() {
  Dataset d;
  d.models = {"weak", "strong"};
  add_topic_rows(d, 6, 1, 0, "topics", false);
  return d;
}

TEST(ShiftFallbackTest, FarPromptFallsBackToTheLengthPrior) {
  Dataset d = topic_data();
  TrainOptions o;
  o.features.hash_bits = 14;
  o.features.structure = true;
  o.prior_mix = 0.25;
  o.shift_quantile = 0.99;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const ScorePrior& p = (*m)->parts().prior;
  ASSERT_TRUE(p.active());
  EXPECT_GT(p.max_shift, 0);
  // In distribution (prompts shaped like the training ones): the mix of model and prior, no fallback.
  const ScoreDetail in = (*m)->score_detail("compute the integral of sin x #2");
  EXPECT_FALSE(in.fallback);
  EXPECT_NEAR(in.score, 0.75 * in.model + 0.25 * in.prior, 1e-9);
  EXPECT_GT(in.score, (*m)->score("name the capital of sin x #2"));
  // A multi-turn chat with code and numbers looks like nothing in training: the prior decides.
  const std::string far =
      "User: my build fails\nAssistant: show me the log\nUser: here it is\n```\nerror: 1234 at 0x7ffe 99 88 77\n"
      "  int x = 3 * 4 + 5;\n  return x / 2;\n```\nWHY??? FIX IT NOW. 1) 2) 3) 4) 5) 6)\n";
  const ScoreDetail out = (*m)->score_detail(far);
  EXPECT_TRUE(out.fallback);
  EXPECT_GT(out.shift, p.max_shift);
  EXPECT_DOUBLE_EQ(out.score, out.prior);
  EXPECT_DOUBLE_EQ(out.prior, (*m)->length_prior(far.size()));
  EXPECT_STREQ(out.fallback_prior, "length");
  // The prior is monotone in length and lives on the route score's scale.
  EXPECT_LE((*m)->length_prior(10), (*m)->length_prior(40));
  EXPECT_GE((*m)->length_prior(10), p.score_q.front());
  EXPECT_LE((*m)->length_prior(100000), p.score_q.back() + 1e-6);
  // A configured prior instead of length: always strong on shift.
  o.shift_fallback = ScorePrior::Fallback::strong;
  auto s = train_router(d, {}, {}, o);
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ((*s)->score(far), 1.0);
  EXPECT_STREQ((*s)->score_detail(far).fallback_prior, "strong");
}

TEST(ShiftFallbackTest, PriorAndGuardSurviveTheFileAndOldFilesHaveNone) {
  Dataset d = topic_data();
  TrainOptions o;
  o.features.hash_bits = 12;
  o.features.structure = true;
  o.prior_mix = 0.5;
  o.shift_quantile = 0.95;
  o.shift_margin = 1.5;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok());
  auto back = LearnedModel::from_bytes((*m)->to_bytes());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE((*back)->parts().transform.config().structure);
  EXPECT_EQ((*back)->parts().prior.max_shift, (*m)->parts().prior.max_shift);
  EXPECT_EQ((*back)->parts().prior.score_q, (*m)->parts().prior.score_q);
  for (const char* q : {"compute the integral of x", "User: a\nAssistant: b\n```\n1 2 3\n```"}) {
    EXPECT_EQ((*back)->score(q), (*m)->score(q));
    EXPECT_EQ((*back)->score_detail(q).fallback, (*m)->score_detail(q).fallback);
  }
  // Without prior options the model is what it was before: score == model score, never a fallback.
  TrainOptions plain;
  plain.features.hash_bits = 12;
  auto p = train_router(d, {}, {}, plain);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE((*p)->parts().prior.active());
  const ScoreDetail sd = (*p)->score_detail("User: a\nAssistant: b\n```\n1 2 3\n```");
  EXPECT_FALSE(sd.fallback);
  EXPECT_EQ(sd.score, sd.model);
}

// --- conversations and the task block ------------------------------------------------------------------

TEST(ConversationTest, ShapeOfAConversation) {
  const std::vector<ChatMessageView> chat = {{"system", "You are terse."},
                                             {"user", "hello"},
                                             {"assistant", "hi, how can I help?"},
                                             {"user", "what is 2+2?"},
                                             {"assistant", "The answer is"}};
  std::size_t scored = 99;
  const ConversationShape c = conversation_shape(chat, &scored);
  EXPECT_EQ(scored, 3u);  // the last user message
  EXPECT_EQ(c.earlier_messages, 3u);
  EXPECT_TRUE(c.has_system);
  EXPECT_EQ(c.system_bytes, 14u);
  EXPECT_EQ(c.context_bytes, 5u + 19u + 13u);
  // One bare prompt is the default shape.
  const std::vector<ChatMessageView> one = {{"user", "x"}};
  const ConversationShape b = conversation_shape(one, &scored);
  EXPECT_EQ(scored, 0u);
  EXPECT_EQ(b.earlier_messages, 0u);
  EXPECT_FALSE(b.has_system);
  std::array<float, kConversationFeatures> f{};
  FeatureExtractor::conversation_features(c, f);
  EXPECT_NEAR(f[0], std::log1p(3.0f), 1e-6);
  EXPECT_EQ(f[1], 1.0f);
  FeatureExtractor::conversation_features(b, f);
  for (float v : f) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(dense_feature_names()[kConversationOffset], "conv_log_earlier_turns");
  EXPECT_EQ(dense_feature_names()[kTaskOffset], "task_log_fewshot_examples");
}

TEST(ConversationTest, JsonlMessagesLoadAsTheStageSeesThem) {
  TempDir d;
  const std::string f = d.write(
      "chat.jsonl",
      "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"first\"},"
      "{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"}]}],"
      "\"scores\":{\"strong\":1,\"weak\":0}}\n"
      "{\"prompt\":\"plain\",\"scores\":{\"strong\":0,\"weak\":1}}\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->examples.size(), 2u);
  EXPECT_EQ(data->examples[0].prompt, "second");
  EXPECT_EQ(data->examples[0].conversation.earlier_messages, 2u);
  EXPECT_TRUE(data->examples[0].conversation.has_system);
  EXPECT_EQ(data->examples[0].conversation.system_bytes, 9u);
  EXPECT_EQ(data->examples[0].conversation.context_bytes, 7u);
  EXPECT_EQ(data->examples[1].prompt, "plain");
  EXPECT_EQ(data->examples[1].conversation.earlier_messages, 0u);
  EXPECT_FALSE(load_dataset({d.write("bad.jsonl", "{\"messages\":[],\"scores\":{\"a\":1}}\n")}, LoadOptions{}).ok());
}

TEST(ConversationTest, TrainedOnConversationsTheHeadsUseTheShape) {
  // Same last message; only the conversation differs: long chats need the strong model.
  Dataset d;
  d.models = {"weak", "strong"};
  for (int i = 0; i < 60; ++i) {
    Example e;
    e.prompt = "please help with item " + std::to_string(i);
    const bool chat = i % 2 == 0;
    e.conversation.earlier_messages = chat ? 6 : 0;
    e.conversation.context_bytes = chat ? 900 : 0;
    e.quality = {chat ? 0.0f : 1.0f, 1.0f};
    e.input_tokens = e.output_tokens = e.cost = {NAN, NAN};
    e.response = {"", ""};
    d.examples.push_back(e);
  }
  TrainOptions o;
  o.features.hash_bits = 8;
  o.features.word_ngram_max = 0;
  o.features.structure = true;
  o.features.conversation = true;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ConversationShape chat;
  chat.earlier_messages = 6;
  chat.context_bytes = 900;
  EXPECT_GT((*m)->score("please help with item 7", chat), (*m)->score("please help with item 7") + 0.2);
  auto back = LearnedModel::from_bytes((*m)->to_bytes());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE((*back)->parts().transform.config().conversation);
  EXPECT_EQ((*back)->score("please help with item 7", chat), (*m)->score("please help with item 7", chat));
}

TEST(ConversationTest, UnseenConversationShapeMovesTheShiftGuardOnly) {
  Dataset d = topic_data();  // single prompts: the conversation block is constant in training
  TrainOptions o;
  o.features.hash_bits = 12;
  o.features.structure = true;
  o.features.conversation = true;
  o.prior_mix = 0.5;
  o.shift_quantile = 0.99;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok());
  ConversationShape sys;
  sys.has_system = true;
  sys.system_bytes = 2000;
  sys.earlier_messages = 4;
  sys.context_bytes = 3000;
  const std::string q = "compute the integral of sin x #2";
  const ScoreDetail plain = (*m)->score_detail(q), chat = (*m)->score_detail(q, sys);
  EXPECT_EQ(plain.model, chat.model);  // the heads never saw the block vary
  EXPECT_GT(chat.shift, plain.shift);  // the guard does: four features at the clip
  // A model without the block ignores the shape entirely.
  o.features.conversation = false;
  auto old = train_router(d, {}, {}, o);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*old)->score_detail(q, sys).shift, (*old)->score_detail(q).shift);
  EXPECT_EQ((*old)->score(q, sys), (*old)->score(q));
}

TEST(ConversationTest, ModelFilesFromBeforeTheNewBlocksLoadAndScoreAsBefore) {
  // The shipped model before the conversation and task blocks (30 dense features).
  auto m = LearnedModel::load(SWITCHYARD_TESTDATA "/learn/router-30-dense.sylm");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE((*m)->parts().transform.config().conversation);
  EXPECT_FALSE((*m)->parts().transform.config().task);
  for (std::size_t j = kConversationOffset; j < kDenseFeatures; ++j) EXPECT_EQ((*m)->parts().transform.dense_inv_std()[j], 0.0f);
  ConversationShape sys;
  sys.has_system = true;
  sys.system_bytes = 100;
  const std::string q = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                        "How many clips did Natalia sell altogether in April and May?";
  EXPECT_EQ((*m)->score(q, sys), (*m)->score(q));
  const double s = (*m)->score(q);
  EXPECT_GT(s, 0.0);
  EXPECT_LT(s, 1.0);
  auto back = LearnedModel::from_bytes((*m)->to_bytes());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)->score(q), s);
}

TEST(TaskFeaturesTest, FewShotSplitOptionsAndCues) {
  std::array<float, kTaskFeatures> f{};
  // Two answered examples, then the final multiple-choice question.
  const std::string few =
      "What is 1+1?\nA. 1\nB. 2\nAnswer: B\n\nWhat is 2+2?\nA. 4\nB. 5\nAnswer: A\n\n"
      "Which of the following is NOT a prime? Consider each option.\nA. 2\nB. 3\nC. 9\nD. 11\nAnswer:";
  FeatureExtractor::task_features(few, f);
  EXPECT_NEAR(f[0], std::log1p(2.0f), 1e-6);  // two few-shot examples
  EXPECT_NEAR(f[1], std::log1p(static_cast<float>(std::string("Which of the following is NOT a prime? Consider each option.").size())), 1e-5);
  EXPECT_EQ(f[3], 1.0f);                      // every option is a number
  EXPECT_GT(f[4], 0.0f);                      // "NOT"
  EXPECT_GT(f[5], 0.0f);                      // "each"
  EXPECT_FLOAT_EQ(f[8], 11.0f / 2.0f);        // eleven words in two sentences
  EXPECT_EQ(f[9], 0.0f);                      // no numbers in the stem
  // A word problem: no options, no examples.
  FeatureExtractor::task_features("She has 3 apples and twice as many pears. How many fruits in total?", f);
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[2], 0.0f);
  EXPECT_NEAR(f[5], std::log1p(2.0f), 1e-6);  // twice, total
  EXPECT_GT(f[6], 1.0f);                      // vowel groups per word
  EXPECT_NEAR(f[9], 1.0f / 13.0f, 1e-6);      // one number in 13 words
}

TEST(InvarianceTest, FeatureWhoseSignFlipsAcrossGroupsIsLeftOut) {
  // Length says "strong" in one group and "weak" in the other; question marks say "strong" in both.
  Dataset d;
  d.models = {"weak", "strong"};
  for (int i = 0; i < 200; ++i) {
    Example e;
    const bool g1 = i < 100, hard = i % 2 == 0, long_prompt = (hard == g1) != (i % 5 == 0);
    e.prompt = std::string(long_prompt ? 300 : 30, 'x') + (hard ? " ? ?" : " .");
    e.group = g1 ? "one" : "two";
    e.quality = {hard ? 0.0f : 1.0f, 1.0f};
    e.input_tokens = e.output_tokens = e.cost = {NAN, NAN};
    e.response = {"", ""};
    d.examples.push_back(e);
  }
  TrainOptions o;
  o.features.hash_bits = 8;
  o.features.word_ngram_max = 0;
  o.quality_heads = false;
  auto all = train_router(d, {}, {}, o);
  ASSERT_TRUE(all.ok());
  o.invariant_agreement = 0.75;
  auto inv = train_router(d, {}, {}, o);
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  const auto& names = dense_feature_names();
  const auto at = [&](std::string_view n) { return static_cast<std::size_t>(std::find(names.begin(), names.end(), n) - names.begin()); };
  EXPECT_NE((*all)->parts().transform.dense_inv_std()[at("log_question_marks")], 0.0f);
  EXPECT_NE((*inv)->parts().transform.dense_inv_std()[at("log_question_marks")], 0.0f);
  EXPECT_NE((*all)->parts().transform.dense_inv_std()[at("log_chars")], 0.0f);
  EXPECT_EQ((*inv)->parts().transform.dense_inv_std()[at("log_chars")], 0.0f);
}

TEST(ShiftFallbackTest, LogitSpaceMixSurvivesTheFile) {
  Dataset d = topic_data();
  TrainOptions o;
  o.features.hash_bits = 12;
  o.prior_mix = 0.5;
  o.prior_logit_mix = true;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok());
  const ScoreDetail sd = (*m)->score_detail("compute the integral of sin x #2");
  const auto logit = [](double v) { return std::log(v / (1 - v)); };
  EXPECT_NEAR(logit(sd.score), 0.5 * logit(sd.model) + 0.5 * logit(sd.prior), 1e-9);
  auto back = LearnedModel::from_bytes((*m)->to_bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE((*back)->parts().prior.logit_mix);
  EXPECT_EQ((*back)->score("compute the integral of sin x #2"), sd.score);
}

// --- the out-of-distribution protocol -------------------------------------------------------------------

TEST(HeldOutTest, TopicGroupsAndSplits) {
  EXPECT_EQ(topic_group("mmlu_abstract_algebra"), "STEM");
  EXPECT_EQ(topic_group("high_school_us_history"), "humanities");
  EXPECT_EQ(topic_group("mmlu_econometrics"), "social sciences");
  EXPECT_EQ(topic_group("mmlu_virology"), "other");
  EXPECT_EQ(topic_group("gsm8k_responses"), "");
  Dataset d;
  d.models = {"weak", "strong"};
  for (const char* g : {"mmlu_anatomy", "mmlu_college_physics", "mmlu_philosophy"}) {
    Example e{std::string("q ") + g, {1, 1}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, g};
    e.source = "mmlu";
    d.examples.push_back(e);
  }
  Example g{"a word problem", {0, 1}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, "gsm8k"};
  g.source = "gsm8k";
  d.examples.push_back(g);
  auto splits = held_out_splits(d, true);
  ASSERT_EQ(splits.size(), 5u);  // 2 datasets + the 3 topic groups present
  EXPECT_EQ(splits[0].name, "mmlu");
  EXPECT_TRUE(splits[0].dataset);
  EXPECT_EQ(splits[0].test, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(splits[0].train, (std::vector<std::size_t>{3}));
  EXPECT_EQ(splits[1].name, "gsm8k");
  EXPECT_EQ(splits[2].name, "mmlu:STEM");
  EXPECT_FALSE(splits[2].dataset);
  EXPECT_EQ(splits[2].test, (std::vector<std::size_t>{1}));
  EXPECT_EQ(splits[2].train, (std::vector<std::size_t>{0, 2, 3}));  // other sources stay in training
  EXPECT_EQ(held_out_splits(d, false).size(), 2u);
}

}  // namespace
}  // namespace sy::learn
