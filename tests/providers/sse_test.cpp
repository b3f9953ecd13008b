#include "switchyard/providers/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sy::providers {
namespace {

TEST(SseParserTest, AnEventThatNeverEndsIsBoundedNotBuffered) {
  SseParser p;
  std::vector<std::string> events;
  auto on = [&](std::string_view, std::string_view data) { events.emplace_back(data); };
  EXPECT_TRUE(p.feed("data: {\"a\":1}\n\n", on, 64));
  ASSERT_EQ(events.size(), 1u);
  // A line that never ends, then data lines without the blank line that ends an event.
  EXPECT_TRUE(p.feed(std::string(40, 'x'), on, 64));
  EXPECT_FALSE(p.feed(std::string(40, 'x'), on, 64));
  EXPECT_FALSE(p.feed("\n\ndata: later\n\n", on, 64)) << "stays failed";
  SseParser q;
  std::string lines;
  for (int i = 0; i < 10; ++i) lines += "data: 0123456789\n";
  EXPECT_FALSE(q.feed(lines, on, 64));
  EXPECT_EQ(events.size(), 1u);
}

}  // namespace
}  // namespace sy::providers
