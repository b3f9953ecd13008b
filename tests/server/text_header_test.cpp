// InboundRequest::add_text_header: free text (routing reasons, stage names) cannot break the response head.
#include <gtest/gtest.h>

#include <string>

#include "server/session.hpp"

namespace sy::server {
namespace {

TEST(TextHeader, ControlBytesBecomeSpacesAndTheRestIsKept) {
  InboundRequest call;
  call.add_text_header("x-switchyard-reason", std::string("a\r\nSet-Cookie: x\0y\x7f\tz \xc3\xa9", 24));
  EXPECT_EQ(call.headers, "x-switchyard-reason: a  Set-Cookie: x y  z \xc3\xa9\r\n");
}

TEST(TextHeader, LongValuesAreCutAt512Bytes) {
  InboundRequest call;
  call.add_text_header("x", std::string(600, 'r'));
  EXPECT_EQ(call.headers, "x: " + std::string(512, 'r') + "\r\n");
}

TEST(TextHeader, FollowsWhatWasAddedBefore) {
  InboundRequest call;
  call.add_header("x-a", "1");
  call.add_text_header("x-b", "two\nlines");
  EXPECT_EQ(call.headers, "x-a: 1\r\nx-b: two lines\r\n");
}

}  // namespace
}  // namespace sy::server
