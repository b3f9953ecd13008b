#include "switchyard/tokenize/lazy_token_counter.hpp"

#include <gtest/gtest.h>

#include "tokenize/rank_files.hpp"

namespace sy::tokenize {
namespace {

TEST(LazyTokenCounterTest, EstimatesUntilLoadedThenCountsExactly) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  (void)o200k;
  LazyTokenCounter lazy(default_models_dir());
  auto before = lazy.for_model("gpt-4o-mini");
  EXPECT_EQ(before.method(), CountMethod::estimate) << "the first use only starts the load";
  lazy.load_now();
  EXPECT_EQ(lazy.for_model("gpt-4o-mini").method(), CountMethod::o200k_base);
  EXPECT_EQ(lazy.for_model("gpt-4o-mini").count("hello world"), 2u);
  EXPECT_EQ(lazy.for_model("claude-sonnet-4").method(), CountMethod::cl100k_proxy);
}

TEST(LazyTokenCounterTest, MissingRankFilesStayOnTheEstimateAndReportOnce) {
  int errors = 0;
  {
    LazyTokenCounter lazy("/nonexistent/switchyard-models", [&](const std::string&) { ++errors; });
    lazy.load_now();
    EXPECT_EQ(lazy.for_model("gpt-4o").method(), CountMethod::estimate);
    EXPECT_GT(lazy.for_model("gpt-4o").count("hello world, how are you"), 0u);
  }
  EXPECT_EQ(errors, 2);  // one per encoding
}

}  // namespace
}  // namespace sy::tokenize
