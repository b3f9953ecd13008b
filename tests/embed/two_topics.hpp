#pragma once
// Test data shared by the semantic heads' tests: two routes (billing, coding) of four utterances each,
// embedded by a hashing embedder fitted on them (sparse parts only).
#include <memory>
#include <string>
#include <vector>

#include "switchyard/embed/hashing_embedder.hpp"

namespace sy::embed::testing {

struct TwoTopics {
  std::shared_ptr<const HashingEmbedder> embedder;
  std::vector<std::vector<Embedding>> examples;  ///< [0] billing, [1] coding
};

inline TwoTopics two_topics() {
  const std::vector<std::string> billing = {"why was I charged twice", "update my credit card", "refund my payment",
                                            "my invoice is wrong"};
  const std::vector<std::string> coding = {"fix this segfault in my code", "write a python function",
                                           "my compiler reports an error", "refactor this class"};
  std::vector<std::string> corpus = billing;
  corpus.insert(corpus.end(), coding.begin(), coding.end());
  TwoTopics t{HashingEmbedder::create({}, corpus).value(), std::vector<std::vector<Embedding>>(2)};
  for (const auto& s : billing) t.examples[0].push_back(t.embedder->embed(s));
  for (const auto& s : coding) t.examples[1].push_back(t.embedder->embed(s));
  return t;
}

}  // namespace sy::embed::testing
