#include "switchyard/core/numbers.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <random>

namespace sy {
namespace {

std::string exact(double v, int digits) {
  char buf[128];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  return std::string(buf, r.ptr);
}

TEST(NumbersTest, FixedMatchesToCharsEverywhere) {
  // The integer fast path must give to_chars' exactly rounded text, ties and near-ties included.
  for (double v : {0.0, -0.0, 0.5, 1.5, 2.5, 0.0005, 0.0015, 1.0005, 0.125, 0.9195, 0.919, -0.4, -0.0004, 999999.9999995,
                   123456789.0, 1e9, 1e12, 5e-324, 0.1 + 0.2}) {
    for (int d = 0; d <= 8; ++d) EXPECT_EQ(fixed(v, d), exact(v, d)) << v << " " << d;
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::uniform_int_distribution<int> scale(-8, 10);
  for (int i = 0; i < 200000; ++i) {
    const double v = unit(rng) * std::pow(10.0, scale(rng));
    const int d = i % 7;
    ASSERT_EQ(fixed(v, d), exact(v, d)) << v << " " << d;
  }
  // Values on a decimal grid hit the ties that a fast path could round the wrong way.
  for (int k = -20000; k <= 20000; ++k) {
    const double v = k / 2000.0;
    for (int d = 0; d <= 4; ++d) ASSERT_EQ(fixed(v, d), exact(v, d)) << v << " " << d;
  }
}

}  // namespace
}  // namespace sy
