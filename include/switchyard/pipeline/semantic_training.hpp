#pragma once
/// What `switchyard train-semantic --config` needs from a config: every semantic stage's routes and
/// embedder, built exactly as the stage builds them at load (same utterance files, same hashing IDF,
/// same use-lite blob), so a head trained from them fits the stage that later loads it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/embed/embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "switchyard/embed/semantic_index.hpp"

namespace sy::pipeline {

struct SemanticTrainingSet {
  std::string router;  ///< router name
  std::string stage;   ///< stage name (its `name:`, else "semantic")
  std::vector<embed::RouteSpec> routes;
  std::shared_ptr<const embed::Embedder> embedder;
  embed::HeadOptions head;  ///< from the stage's `classifier:` (l2, scales), fingerprint filled in
  std::string head_path;    ///< the stage's `classifier.head` file (resolved), empty when none
};

/// Every `type: semantic` stage of `cfg`'s routers. Problems go to `d` (like a config load).
/// `base_dir` resolves relative paths (the config file's directory).
std::vector<SemanticTrainingSet> semantic_training_sets(const config::Config& cfg, const std::string& base_dir,
                                                        config::Diagnostics& d);

/// The fingerprint a stage compares with a loaded head's: its embedder type, route names and utterances.
std::uint64_t semantic_fingerprint(const embed::Embedder& embedder, const std::vector<embed::RouteSpec>& routes);

}  // namespace sy::pipeline
