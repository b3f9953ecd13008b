// Fuzz target: a decision log as `switchyard train --from-log` reads it (learn::traffic_dataset): request
// lines, feedback lines joined to them, cascade paths. The log is our own output, but it holds prompts,
// feedback comments and labels clients wrote, and a log may be cut or edited. Checks: no crash, no
// exception; one row per qualifying request line at most, and every label in [0, 1].
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/learn/traffic.hpp"

using namespace sy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = fuzz::as_view(data, size);
  learn::TrafficOptions opts;
  opts.strong = "big";
  opts.weak = "small";
  learn::TrafficReport rep;
  auto t = learn::traffic_dataset({std::string(in)}, opts, &rep);
  SY_FUZZ_CHECK(t.ok(), "two models named");
  SY_FUZZ_CHECK(t->requests.size() <= rep.decision_lines, "a row per request line at most");
  SY_FUZZ_CHECK(t->requests.size() == t->data.examples.size(), "a request per row");
  for (const auto& e : t->data.examples)
    for (float q : e.quality) SY_FUZZ_CHECK(std::isnan(q) || (q >= 0 && q <= 1), "labels in [0, 1]");
  return 0;
}
