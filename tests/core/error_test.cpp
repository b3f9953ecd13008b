#include "switchyard/core/error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sy {
namespace {

TEST(ErrorTest, MapsKindsToStatusAndOpenAIShape) {
  Error e = Error::bad_request("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  EXPECT_EQ(http_status(e), 400);
  auto j = nlohmann::json::parse(to_openai_json(e));
  EXPECT_EQ(j["error"]["message"], "Missing required parameter: 'model'.");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_EQ(j["error"]["code"], "missing_required_parameter");

  Error nf = Error::make(ErrorKind::not_found, "nope");
  auto jn = nlohmann::json::parse(to_openai_json(nf));
  EXPECT_TRUE(jn["error"]["param"].is_null());
  EXPECT_EQ(http_status(nf), 404);
  EXPECT_EQ(http_status(Error::make(ErrorKind::rate_limited, "")), 429);
  EXPECT_EQ(http_status(Error::make(ErrorKind::timeout, "")), 504);
  Error rejected = Error::make(ErrorKind::rejected, "no");
  rejected.status_override = 403;
  EXPECT_EQ(http_status(rejected), 403);
}

}  // namespace
}  // namespace sy
