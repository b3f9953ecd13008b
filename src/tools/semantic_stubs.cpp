// Placeholder: replaced by the semantic evaluation tool.
#include <cstdio>

#include "switchyard/tools/tools.hpp"

namespace sy::tools {
int eval_semantic_main(int, char**) { std::fputs("switchyard eval-semantic: not built yet\n", stderr); return 2; }
}  // namespace sy::tools
