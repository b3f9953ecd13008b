#include "switchyard/learn/dataset.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "switchyard/learn/evaluation.hpp"
#include "learn/temp_dir.hpp"

namespace sy::learn {
namespace {

namespace fs = std::filesystem;


// The RouteLLM layout: mmlu/responses/mmlu_<subject>.csv and mmlu/contaminated_prompts.jsonl.
void write_mmlu_like(const TempDir& d) {
  d.write("mmlu/responses/mmlu_anatomy.csv",
          "prompt,weak-model,strong-model\n"
          "\"Which bone?\nA. femur\nB. tibia\nAnswer:\",True,True\n"
          "\"A \"\"dished face\"\" is\nA. x\nB. y\nAnswer:\",False,True\n");
  d.write("mmlu/responses/mmlu_virology.csv",
          "prompt,weak-model,strong-model\r\n"
          "\"Which virus?\r\nA. flu\r\nAnswer:\",False,False\r\n"
          "\"Leaked question\nAnswer:\",True,False\r\n");
  d.write("mmlu/contaminated_prompts.jsonl",
          "{\"train_prompt\":\"x\",\"eval_prompt\":\"Leaked question\\nAnswer:\",\"train_idx\":1,\"eval_idx\":3}\n");
}

TEST(DatasetTest, LoadsDirectoryOfCsvsAndDropsContaminatedPrompts) {
  TempDir d;
  write_mmlu_like(d);
  LoadReport rep;
  auto data = load_dataset({d.path("mmlu/responses")}, LoadOptions{}, &rep);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->models, (std::vector<std::string>{"weak-model", "strong-model"}));
  EXPECT_EQ(rep.rows_read, 4u);
  EXPECT_EQ(rep.dropped_contaminated, 1u);
  ASSERT_EQ(data->examples.size(), 3u);
  EXPECT_EQ(data->examples[0].prompt, "Which bone?\nA. femur\nB. tibia\nAnswer:");
  EXPECT_EQ(data->examples[1].prompt, "A \"dished face\" is\nA. x\nB. y\nAnswer:");
  EXPECT_EQ(data->examples[2].prompt, "Which virus?\r\nA. flu\r\nAnswer:");
  EXPECT_EQ(data->examples[1].quality, (std::vector<float>{0, 1}));
  EXPECT_EQ(data->examples[0].group, "mmlu_anatomy");
  EXPECT_EQ(data->examples[2].group, "mmlu_virology");
  EXPECT_TRUE(std::isnan(data->examples[0].output_tokens[0]));
}

TEST(DatasetTest, GlobAndNoDecontaminate) {
  TempDir d;
  write_mmlu_like(d);
  LoadOptions o;
  o.find_contaminated = false;
  auto data = load_dataset({d.path("mmlu/responses/mmlu_v*.csv")}, o);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->examples.size(), 2u);
  EXPECT_EQ(data->sources.size(), 1u);
}

TEST(DatasetTest, ResponseColumnsGiveOutputTokenEstimates) {
  TempDir d;
  const std::string f = d.write("g.csv",
                                "prompt,w,s,w_response,s_response,s_input_tokens\n"
                                "\"q1\",True,False,\"12345678\",\"1234\",40\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->models, (std::vector<std::string>{"w", "s"}));
  const Example& e = data->examples[0];
  EXPECT_FLOAT_EQ(e.output_tokens[0], 2.0f);
  EXPECT_FLOAT_EQ(e.output_tokens[1], 1.0f);
  EXPECT_FLOAT_EQ(e.input_tokens[1], 40.0f);
  EXPECT_TRUE(std::isnan(e.input_tokens[0]));
}

TEST(DatasetTest, LoadsJsonlWithScoresGroupsAndTokens) {
  TempDir d;
  const std::string f = d.write(
      "x.jsonl",
      "{\"prompt\":\"a\",\"scores\":{\"m1\":1,\"m2\":0.5,\"m3\":false},\"group\":\"g1\",\"input_tokens\":{\"m1\":7}}\n"
      "\n"
      "{\"prompt\":\"b\",\"m1\":true,\"m2\":0,\"m3\":1}\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->models, (std::vector<std::string>{"m1", "m2", "m3"}));
  ASSERT_EQ(data->examples.size(), 2u);
  EXPECT_EQ(data->examples[0].quality, (std::vector<float>{1, 0.5f, 0}));
  EXPECT_EQ(data->examples[0].group, "g1");
  EXPECT_EQ(data->examples[1].group, "x");
  EXPECT_FLOAT_EQ(data->examples[0].input_tokens[0], 7.0f);
  EXPECT_EQ(data->examples[1].quality, (std::vector<float>{1, 0, 1}));
}

TEST(DatasetTest, ErrorsNameTheFile) {
  TempDir d;
  const std::string f = d.write("bad.csv", "text,a\nx,True\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.error().message.find("bad.csv"), std::string::npos);
  EXPECT_FALSE(load_dataset({d.path("missing.csv")}, LoadOptions{}).ok());
}

TEST(DatasetTest, DeeplyNestedJsonlAndContaminationLinesAreErrorsAtTheirLine) {
  TempDir d;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string f = d.write("deep.jsonl", "{\"prompt\":\"ok\",\"scores\":{\"a\":1}}\n{\"prompt\":" + deep + "}\n");
  auto data = load_dataset({f}, LoadOptions{});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.error().message.find("deep.jsonl:2"), std::string::npos) << data.error().message;
  EXPECT_NE(data.error().message.find("deeper than the limit"), std::string::npos) << data.error().message;
  const std::string c = d.write("contaminated_prompts.jsonl", "{\"prompt\":" + deep + "}\n");
  auto contaminated = load_contaminated(c);
  ASSERT_FALSE(contaminated.ok());
  EXPECT_NE(contaminated.error().message.find("contaminated_prompts.jsonl:1"), std::string::npos);
}

TEST(FoldsTest, FoldsByPromptKeepDuplicatesTogetherAndAreDeterministic) {
  Dataset data;
  data.models = {"w", "s"};
  for (int i = 0; i < 103; ++i) data.examples.push_back({std::string(1, 'p') += std::to_string(i % 90), {1, 1}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, ""});
  auto a = folds_by_prompt(data, 5, 42);
  auto b = folds_by_prompt(data, 5, 42);
  auto c = folds_by_prompt(data, 5, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 5u);
  std::vector<int> fold_of(103, -1);
  std::size_t total = 0;
  for (std::size_t f = 0; f < a.size(); ++f) {
    EXPECT_GE(a[f].size(), 19u);
    EXPECT_LE(a[f].size(), 23u);
    total += a[f].size();
    for (std::size_t r : a[f]) fold_of[r] = static_cast<int>(f);
  }
  EXPECT_EQ(total, 103u);
  for (int i = 90; i < 103; ++i) EXPECT_EQ(fold_of[static_cast<std::size_t>(i)], fold_of[static_cast<std::size_t>(i - 90)]);
}

TEST(DatasetTest, KeepsResponseTextsPerModelFromCsvAndJsonl) {
  TempDir d;
  const std::string csv = d.write("g.csv",
                                  "prompt,weak,strong,weak_response,strong_response\n"
                                  "\"2+2?\",False,True,\"2 + 2 = 5\n#### 5\",\"4\"\n");
  auto data = load_dataset({csv}, {});
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->examples.size(), 1u);
  const Example& e = data->examples[0];
  ASSERT_EQ(e.response.size(), 2u);
  EXPECT_EQ(e.response[static_cast<std::size_t>(data->model_index("weak"))], "2 + 2 = 5\n#### 5");
  EXPECT_EQ(e.response[static_cast<std::size_t>(data->model_index("strong"))], "4");
  const std::string jsonl =
      d.write("g.jsonl", R"({"prompt": "p", "scores": {"a": 1, "b": 0}, "responses": {"b": "no idea"}})" "\n");
  auto j = load_dataset({jsonl}, {});
  ASSERT_TRUE(j.ok()) << j.error().message;
  ASSERT_EQ(j->examples[0].response.size(), 2u);
  EXPECT_EQ(j->examples[0].response[static_cast<std::size_t>(j->model_index("b"))], "no idea");
  EXPECT_TRUE(j->examples[0].response[static_cast<std::size_t>(j->model_index("a"))].empty());
}

}  // namespace
}  // namespace sy::learn
