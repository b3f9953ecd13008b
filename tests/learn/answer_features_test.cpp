#include "switchyard/learn/answer_features.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

#include "switchyard/answer/heuristics.hpp"

namespace sy::learn {
namespace {

using namespace sy::answer;

/// The value of the named verifier feature for one (prompt, answer) pair.
float feature(std::string_view prompt, std::string_view answer, std::string_view name) {
  std::array<float, kAnswerFeatures> f{};
  answer_features(prompt, answer, f);
  const auto& names = answer_feature_names();
  for (std::size_t k = 0; k < kAnswerFeatures; ++k)
    if (names[k] == name) return f[k];
  ADD_FAILURE() << "no feature " << name;
  return -1;
}

constexpr std::string_view kEggs =
    "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes with 4. She sells the rest for $2 "
    "each. How much money does she make every day?";
constexpr std::string_view kEggsRight =
    "She has 16 - 3 = <<16-3=13>>13 eggs after breakfast.\nThen 13 - 4 = <<13-4=9>>9 eggs are left.\n"
    "She makes 9 * $2 = $<<9*2=18>>18.\n#### 18";

TEST(ArithmeticStepsTest, RecordsEveryComputationWithItsOperandsAndPlace) {
  const std::string_view text = "16 - 3 = 13 eggs, then 13 - 4 = 9.";
  ArithmeticCheck a = check_arithmetic(text);
  ASSERT_EQ(a.steps.size(), 2u);
  EXPECT_EQ(a.steps[0].result, 13);
  EXPECT_EQ(a.steps[0].op, '-');
  ASSERT_EQ(a.steps[0].operand_count, 2u);
  EXPECT_EQ(a.operands[a.steps[0].first_operand], 16);
  EXPECT_EQ(text.substr(a.steps[0].begin, a.steps[0].end - a.steps[0].begin), "16 - 3 = 13");
  EXPECT_EQ(text.substr(a.steps[1].begin, a.steps[1].end - a.steps[1].begin), "13 - 4 = 9");
  EXPECT_TRUE(a.steps[1].holds);
  a = check_arithmetic("So <<8*2+2=20>>20 dollars.");
  ASSERT_EQ(a.steps.size(), 1u);
  EXPECT_FALSE(a.steps[0].holds);
  EXPECT_EQ(a.steps[0].operand_count, 3u);
}

TEST(ArithmeticStepsTest, ChecksChainedAnnotationsAgainstTheirFirstSide) {
  // 100*2*34 + 40*2*34 = 9520, not 6640: the middle "4400+2240" hid it before.
  ArithmeticCheck a = check_arithmetic("Kelly runs <<100*2*34+40*2*34=4400+2240=6640>>6640 yards.");
  EXPECT_EQ(a.annotated, 1u);
  EXPECT_EQ(a.annotated_wrong, 1u);
  a = check_arithmetic("<<2*3+4*5=6+20=26>>26");
  EXPECT_EQ(a.annotated, 1u);
  EXPECT_EQ(a.annotated_wrong, 0u);
  // A running total inside one annotation is not an error (and not checked).
  EXPECT_EQ(check_arithmetic("<<3+4=7+2=9>>9").annotated_wrong, 0u);
}

TEST(AnswerFeaturesTest, FinalAnswerComesFromAChainThatUsesEveryGivenNumber) {
  EXPECT_EQ(feature(kEggs, kEggsRight, "final_in_results"), 1.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "final_unexplained"), 0.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "dead_results"), 0.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "final_chain_givens_share"), 1.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "givens_outside_final_chain"), 0.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "steps_after_final_step"), 0.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "wrong_step_in_final_chain"), 0.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "money_asked_no_dollar"), 0.0f);
}

TEST(AnswerFeaturesTest, FlagsAFinalAnswerThatIgnoresPartOfTheChain) {
  // 13 is computed and never used: the final 16 * 2 skips both subtractions.
  const std::string_view wrong = "She has 16 - 3 = 13 eggs.\nShe makes 16 * 2 = 32 dollars.\n#### 32";
  EXPECT_EQ(feature(kEggs, wrong, "dead_results"), 1.0f);
  EXPECT_EQ(feature(kEggs, wrong, "dead_results_share"), 0.5f);
  EXPECT_EQ(feature(kEggs, wrong, "givens_outside_final_chain"), 2.0f);  // 3 and 4
  EXPECT_EQ(feature(kEggs, wrong, "money_asked_no_dollar"), 0.0f);      // "dollars"
  // The final answer is an intermediate result, and more was computed after it.
  const std::string_view early = "16 - 3 - 4 = 9 eggs.\n9 * 2 = 18 dollars.\n#### 9";
  EXPECT_EQ(feature(kEggs, early, "steps_after_final_step"), 1.0f);
}

TEST(AnswerFeaturesTest, FlagsUnexplainedRoundedAndInconsistentFinals) {
  EXPECT_EQ(feature(kEggs, "16 - 3 - 4 = 9 eggs.\n#### 20", "final_unexplained"), 1.0f);
  EXPECT_EQ(feature("30% of 14 animals are goats. How many goats?", "0.3 * 14 = 4.2 goats, so she buys 5.\n#### 5",
                    "final_rounded"),
            1.0f);
  EXPECT_EQ(feature(kEggs, "16 - 7 = 9, 9 * 2 = 18.\nTherefore she makes $20.\n#### 18", "conclusions_disagreeing"), 1.0f);
  EXPECT_EQ(feature(kEggs, kEggsRight, "conclusions_disagreeing"), 0.0f);
  EXPECT_EQ(feature(kEggs, "16 - 3 - 4 = 9 and 9 * 2 = 18\n#### 18", "money_asked_no_dollar"), 1.0f);
  EXPECT_EQ(feature(kEggs, "16 - 3 - 4 = 9 and 9 * 2 = <<9*2=19>>19\n#### 19", "wrong_step_in_final_chain"), 1.0f);
}

TEST(AnswerFeaturesTest, DescribesTheProblemsStructure) {
  const std::string_view p =
      "A shirt costs $20 and is 25% off. Half of the 12 buyers pay per hour for 3 hours and 2 days. "
      "How many buyers are there?";
  EXPECT_EQ(feature(p, "12 buyers.", "prompt_percents"), 1.0f);
  EXPECT_EQ(feature(p, "12 buyers.", "prompt_fractions"), 1.0f);
  EXPECT_EQ(feature(p, "12 buyers.", "prompt_rate_words"), 1.0f);
  EXPECT_EQ(feature(p, "12 buyers.", "prompt_time_units"), 2.0f);
  EXPECT_EQ(feature(p, "20 + 12 = 32 buyers", "percents_not_applied"), 1.0f);
  EXPECT_EQ(feature(p, "20 * 0.75 = 15", "percents_not_applied"), 0.0f);
  EXPECT_EQ(feature(p, "There are 12 buyers.", "asked_unit_missing"), 0.0f);
  EXPECT_EQ(feature(p, "The answer is 12.", "asked_unit_missing"), 1.0f);
}

TEST(AnswerFeaturesTest, NamesAreUniqueAndCountMatches) {
  const auto& names = answer_feature_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_FALSE(names[i].empty());
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(names[i], names[j]);
  }
}

}  // namespace
}  // namespace sy::learn
