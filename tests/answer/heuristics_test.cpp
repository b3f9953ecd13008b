#include "switchyard/answer/heuristics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sy::answer {
namespace {

TEST(AnswerHeuristicsTest, FlagsRefusalsAtTheStartWithTypographicApostrophes) {
  EXPECT_TRUE(find_refusal("I'm sorry, but I can't help with that request."));
  EXPECT_TRUE(find_refusal("I\xE2\x80\x99m sorry, but I cannot share that."));
  EXPECT_TRUE(find_refusal("As an AI language model, I do not have opinions."));
  EXPECT_TRUE(find_refusal("I am unable to browse the internet."));
  AnswerVerdict v = check_answer("I'm sorry, but I can't assist with that.");
  EXPECT_TRUE(v.has(AnswerIssue::refusal));
  EXPECT_NEAR(v.score, 0.1, 1e-9);
}

TEST(AnswerHeuristicsTest, DoesNotTakeReasoningAboutImpossibilityForARefusal) {
  const std::string answer = "It takes 2.5 bolts, but you cannot buy half a bolt, so 3 bolts.\n#### 3";
  EXPECT_FALSE(find_refusal(answer));
  AnswerVerdict v = check_answer(answer);
  EXPECT_FALSE(v.has(AnswerIssue::refusal));
}

TEST(AnswerHeuristicsTest, FlagsHedges) {
  AnswerVerdict v = check_answer("I'm not sure, but it might be 12.");
  ASSERT_TRUE(v.has(AnswerIssue::hedge));
  EXPECT_NEAR(v.score, 0.7, 1e-9);
  EXPECT_TRUE(find_hedges("The total cannot be determined from the text.").size() == 1);
  EXPECT_TRUE(find_hedges("Paris is the capital of France.").empty());
}

TEST(AnswerHeuristicsTest, EmptyAnswerScoresZero) {
  AnswerVerdict v = check_answer(" \n\t ");
  EXPECT_TRUE(v.has(AnswerIssue::empty));
  EXPECT_EQ(v.score, 0.0);
  EXPECT_TRUE(is_blank(""));
}

TEST(AnswerHeuristicsTest, TruncatedWhenFinishReasonIsLength) {
  AnswerExpectations e;
  e.finish_reason = "length";
  AnswerVerdict v = check_answer("The first step is to", e);
  EXPECT_TRUE(v.has(AnswerIssue::truncated));
  EXPECT_NEAR(v.score, 0.2, 1e-9);
  EXPECT_TRUE(is_truncated("max_tokens"));
  EXPECT_FALSE(is_truncated("stop"));
  e.finish_reason = "stop";
  EXPECT_EQ(check_answer("The first step is to add.", e).score, 1.0);
}

TEST(AnswerHeuristicsTest, InvalidJsonWhenJsonWasRequested) {
  AnswerExpectations e;
  e.json = true;
  EXPECT_TRUE(check_answer("{\"a\": 1,}", e).has(AnswerIssue::invalid_json));
  EXPECT_TRUE(check_answer("```json\n{\"a\": 1}\n```", e).has(AnswerIssue::invalid_json));
  EXPECT_EQ(check_answer(" {\"a\": [1, 2]} ", e).score, 1.0);
  EXPECT_TRUE(is_valid_json("[1, 2, 3]"));
  EXPECT_FALSE(is_valid_json("{\"a\": 1} trailing"));
}

const char* kWeatherSchema = R"({
  "type": "object",
  "properties": {
    "location": {"type": "string", "minLength": 2},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 14},
    "hours": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
    "options": {"type": "object", "properties": {"alerts": {"type": "boolean"}}, "additionalProperties": false}
  },
  "required": ["location", "unit"],
  "additionalProperties": false
})";

TEST(JsonSchemaTest, AcceptsValidToolArguments) {
  auto schema = JsonSchema::parse(kWeatherSchema);
  ASSERT_TRUE(schema.ok()) << schema.error().message;
  EXPECT_TRUE(schema->accepts(R"({"location": "Paris", "unit": "celsius", "days": 3, "hours": [1, 2]})"));
  EXPECT_TRUE(schema->accepts(R"({"location": "Paris", "unit": "celsius", "days": 3.0})"));  // 3.0 is an integer
  EXPECT_EQ(check_tool_arguments(R"({"location": "Oslo", "unit": "fahrenheit"})", *schema).score, 1.0);
}

TEST(JsonSchemaTest, ReportsEachKindOfViolationWithItsPath) {
  auto schema = JsonSchema::parse(kWeatherSchema);
  ASSERT_TRUE(schema.ok());
  auto errs = schema->validate(R"({"unit": "kelvin"})");
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], "$: required property 'location' is missing");
  EXPECT_NE(errs[1].find("$.unit: value \"kelvin\" is not one of the allowed values"), std::string::npos);
  errs = schema->validate(R"({"location": "Rome", "unit": "celsius", "days": "three"})");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "$.days: expected integer, got string");
  errs = schema->validate(R"({"location": "Rome", "unit": "celsius", "days": 30})");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("above the maximum"), std::string::npos);
  errs = schema->validate(R"({"location": "Rome", "unit": "celsius", "hours": [1, "2", 3, 4]})");
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_NE(errs[0].find("more than 3 items"), std::string::npos);
  EXPECT_EQ(errs[1], "$.hours[1]: expected integer, got string");
  errs = schema->validate(R"({"location": "Rome", "unit": "celsius", "color": "red", "options": {"x": 1}})");
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], "$: property 'color' is not allowed");
  EXPECT_EQ(errs[1], "$.options: property 'x' is not allowed");
  EXPECT_EQ(schema->validate("[1, 2]").front(), "$: expected object, got array");
  EXPECT_EQ(schema->validate("{not json").front(), "$: not valid JSON");
  EXPECT_EQ(schema->validate(R"({"unit": 1, "location": 2, "days": "x"})", 2).size(), 2u);  // max_errors

  AnswerVerdict v = check_tool_arguments(R"({"location": "Rome"})", *schema);
  EXPECT_TRUE(v.has(AnswerIssue::schema_violation));
  EXPECT_NEAR(v.score, 0.1, 1e-9);
  EXPECT_TRUE(check_tool_arguments("{\"location\": ", *schema).has(AnswerIssue::invalid_json));
}

TEST(JsonSchemaTest, SchemaViolationThroughCheckAnswer) {
  auto schema = JsonSchema::parse(R"({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}})");
  ASSERT_TRUE(schema.ok());
  AnswerExpectations e;
  e.schema = &*schema;
  EXPECT_EQ(check_answer(R"({"name": "Ada"})", e).score, 1.0);
  EXPECT_TRUE(check_answer(R"({"name": 7})", e).has(AnswerIssue::schema_violation));
  EXPECT_TRUE(check_answer("name: Ada", e).has(AnswerIssue::invalid_json));
}

TEST(JsonSchemaTest, TypeListsConstAnyOfAndBadSchemas) {
  auto s = JsonSchema::parse(R"({"anyOf": [{"type": "string"}, {"type": ["integer", "null"]}], "not_a_keyword": 1})");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->accepts("\"x\""));
  EXPECT_TRUE(s->accepts("null"));
  EXPECT_TRUE(s->accepts("4"));
  EXPECT_FALSE(s->accepts("4.5"));
  auto c = JsonSchema::parse(R"({"const": "yes"})");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->accepts("\"no\""));
  auto bad = JsonSchema::parse(R"({"properties": {"a": {"type": "float"}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("$.properties.a.type"), std::string::npos);
  EXPECT_FALSE(JsonSchema::parse("{").ok());
}

TEST(ArithmeticTest, ChecksInlineEquations) {
  ArithmeticCheck a = check_arithmetic("She has 16 - 3 = 13 eggs. Then 13 - 4 = 9 left. She sells 9 * $2 = $18.");
  EXPECT_EQ(a.checked, 3u);
  EXPECT_EQ(a.wrong, 0u);
  ASSERT_TRUE(a.last_result);
  EXPECT_EQ(*a.last_result, 18.0);
  a = check_arithmetic("So 3 x 4 = 11 apples.");
  EXPECT_EQ(a.checked, 1u);
  EXPECT_EQ(a.wrong, 1u);
  EXPECT_EQ(a.first_wrong, "3 x 4 = 11");
}

TEST(ArithmeticTest, ChecksGsm8kCalculatorAnnotations) {
  ArithmeticCheck a = check_arithmetic("9 eggs for 9 * $2 = $<<9*2=18>>18.\n$50 + 40/100 * $50 = $<<50+20=71>>71");
  EXPECT_EQ(a.annotated, 2u);
  EXPECT_EQ(a.annotated_wrong, 1u);
  EXPECT_EQ(a.first_wrong, "<<50+20=71>>");
  // The text around the annotation is checked as one equation: 9 * 2 = 18 holds, 50 + 0.4 * 50 = 71 does not.
  EXPECT_EQ(a.checked, 2u);
  EXPECT_EQ(a.wrong, 1u);
}

TEST(ArithmeticTest, UnderstandsChainsPercentsCurrencyAndRounding) {
  EXPECT_EQ(check_arithmetic("(16 + 8 + 4 + 2) / 4 = 30 / 4 = 7.5").wrong, 0u);
  EXPECT_EQ(check_arithmetic("(16 + 8 + 4 + 2) / 4 = 30 / 4 = 7.5").checked, 2u);
  EXPECT_EQ(check_arithmetic("8 x $5 x 60% = $24").wrong, 0u);
  EXPECT_EQ(check_arithmetic("$1,200 + $300 = $1,500").wrong, 0u);
  EXPECT_EQ(check_arithmetic("1/3 = 0.33 of the cake").wrong, 0u);
  EXPECT_EQ(check_arithmetic("1/3 = 0.3 of the cake").wrong, 0u);    // rounded to the written precision
  EXPECT_EQ(check_arithmetic("1/3 = 0.31 of the cake").wrong, 1u);
  EXPECT_EQ(check_arithmetic("30 / 4 = 8").wrong, 1u);               // integers must be exact
  EXPECT_EQ(check_arithmetic("2 ** 3 = 8 and 2^4 = 16").wrong, 0u);
  EXPECT_EQ(check_arithmetic("7 \xC3\x97 6 = 42, 42 \xC3\xB7 7 = 6").wrong, 0u);
  EXPECT_EQ(check_arithmetic("20 - 25 = -5").wrong, 0u);
}

TEST(ArithmeticTest, SkipsWhatIsNotAnEquation) {
  // "40% of 50 = 20": the word breaks the equation; "50 = 20" has no operator and is not checked.
  ArithmeticCheck a = check_arithmetic("40% of 50 = 20, and 2 hours = 120 minutes. Let 2x + 3 = 11.");
  EXPECT_EQ(a.wrong, 0u);
  // A running total written with '=' is not an error.
  a = check_arithmetic("3 + 4 = 7 + 2 = 9");
  EXPECT_EQ(a.wrong, 0u);
  EXPECT_EQ(a.checked, 1u);  // 7 + 2 = 9; "3 + 4 = 7 + 2" is the running total
  EXPECT_EQ(check_arithmetic("Call 555-1234 on the 12th at 3:30 = soon").wrong, 0u);
  EXPECT_EQ(check_arithmetic("").checked, 0u);
}

TEST(AnswerHeuristicsTest, ArithmeticErrorsLowerTheScore) {
  AnswerVerdict v = check_answer("2 + 2 = 5 and 3 * 3 = 10.\n#### 10");
  ASSERT_TRUE(v.has(AnswerIssue::arithmetic_error));
  EXPECT_NEAR(v.score, 0.25, 1e-9);  // two wrong equations at 0.5 each
}

TEST(FinalNumberTest, PrefersMarkerThenPhraseThenBoxedThenLastNumber) {
  auto f = final_number("16 - 3 = 13\n#### 18\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, 18);
  EXPECT_EQ(f->source, FinalAnswerSource::marker);
  f = final_number("So 4 + 5 = 9. The answer is $1,234.50.");
  ASSERT_TRUE(f);
  EXPECT_DOUBLE_EQ(f->value, 1234.5);
  EXPECT_EQ(f->text, "1,234.50");
  EXPECT_EQ(f->source, FinalAnswerSource::phrase);
  f = final_number("Thus $\\boxed{42}$ is it, 7 times.");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, 42);
  EXPECT_EQ(f->source, FinalAnswerSource::boxed);
  f = final_number("He has 3 apples and then 12 more, 15 in all.");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, 15);
  EXPECT_EQ(f->source, FinalAnswerSource::last_number);
  f = final_number("#### -5");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, -5);
  EXPECT_FALSE(final_number("no numbers here"));
}

TEST(AnswerHeuristicsTest, MissingFinalAnswerWhenExpected) {
  AnswerExpectations e;
  e.final_answer = true;
  EXPECT_TRUE(check_answer("She has 9 eggs left over.", e).has(AnswerIssue::no_final_answer));
  EXPECT_FALSE(check_answer("She has 9 eggs.\n#### 9", e).has(AnswerIssue::no_final_answer));
}

TEST(AnswerHeuristicsTest, FlagsRepeatedLines) {
  std::string loop;
  for (int i = 0; i < 5; ++i) loop += "Let me compute the total again.\n";
  EXPECT_EQ(repeated_lines(loop), 4u);
  EXPECT_TRUE(check_answer(loop).has(AnswerIssue::repetition));
  EXPECT_EQ(repeated_lines("a\na\nshort\nshort\n"), 0u);  // lines under 8 bytes are ignored
}

TEST(NumbersInTest, ReadsDigitsPercentsAndNumberWords) {
  auto n = numbers_in("She eats three eggs, sells 1,200 at 60% and -4 left; half a dozen.");
  ASSERT_EQ(n.size(), 6u);
  EXPECT_EQ(n[0].value, 3);
  EXPECT_TRUE(n[0].word);
  EXPECT_EQ(n[1].value, 1200);
  EXPECT_EQ(n[2].value, 60);
  EXPECT_TRUE(n[2].percent);
  EXPECT_EQ(n[3].value, -4);
  EXPECT_EQ(n[4].value, 0.5);
  EXPECT_EQ(n[5].value, 12);
}

TEST(AnswerExtractionTest, ConfigurablePatternsLastMatchAndNormalisation) {
  const std::vector<std::string> patterns = {R"(answer is\s*\$?(-?[\d,]*\.?\d+))", R"(####\s*(\S+))"};
  auto ex = AnswerExtractor::compile(patterns);
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  EXPECT_EQ(ex->extract("The answer is 12. Wait, the answer is $1,200.00."), "1200");
  EXPECT_EQ(ex->extract("blah\n#### 18.0"), "18");
  EXPECT_FALSE(ex->extract("nothing to see"));
  ExtractOptions first;
  first.last_match = false;
  auto ex_first = AnswerExtractor::compile(patterns, first);
  ASSERT_TRUE(ex_first.ok());
  EXPECT_EQ(ex_first->extract("The answer is 12. Wait, the answer is $1,200.00."), "12");
  const std::vector<std::string> bad = {"(unclosed"};
  auto err = AnswerExtractor::compile(bad);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message.find("(unclosed"), std::string::npos);
}

TEST(AnswerExtractionTest, DefaultExtractorUsesFinalNumber) {
  auto ex = AnswerExtractor::compile({});
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->extract("9 * 2 = 18\n#### 18"), "18");
  EXPECT_EQ(ex->extract("The answer is 7.50"), "7.5");
  EXPECT_EQ(normalize_answer("  Paris.  "), "paris");
  EXPECT_EQ(normalize_answer("$1,000"), "1000");
  EXPECT_EQ(normalize_answer("+7"), "7");
}

TEST(AnswerExtractionTest, AgreementIsTheMajorityShareOverAllSamples) {
  auto ex = AnswerExtractor::compile({});
  ASSERT_TRUE(ex.ok());
  const std::vector<std::string_view> samples = {"so #### 18", "The answer is $18.00.", "#### 17", "I think 18",
                                                 "no idea"};
  Agreement a = agree(samples, *ex);
  EXPECT_EQ(a.answer, "18");
  EXPECT_EQ(a.votes, 3u);
  EXPECT_EQ(a.extracted, 4u);
  EXPECT_EQ(a.samples, 5u);
  EXPECT_DOUBLE_EQ(a.share(), 0.6);
  EXPECT_EQ(a.representative, 0u);
  // Ties go to the answer seen first; nothing extracted gives an empty answer.
  const std::vector<std::optional<std::string>> tie = {std::string("b"), std::string("a"), std::string("a"), std::string("b")};
  EXPECT_EQ(agree(tie).answer, "b");
  const std::vector<std::optional<std::string>> none = {std::nullopt, std::nullopt};
  Agreement z = agree(none);
  EXPECT_EQ(z.votes, 0u);
  EXPECT_TRUE(z.answer.empty());
  EXPECT_EQ(z.share(), 0.0);
}

}  // namespace
}  // namespace sy::answer
