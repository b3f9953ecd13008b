// Placeholder: replaced by the learned-router tools.
#include <cstdio>

#include "switchyard/tools/tools.hpp"

namespace sy::tools {
int train_main(int, char**) { std::fputs("switchyard train: not built yet\n", stderr); return 2; }
int calibrate_main(int, char**) { std::fputs("switchyard calibrate: not built yet\n", stderr); return 2; }
int eval_main(int, char**) { std::fputs("switchyard eval: not built yet\n", stderr); return 2; }
}  // namespace sy::tools
