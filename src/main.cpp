// Composition root: parse the command line, then either run an offline tool or load the config,
// build the objects and serve. Nothing else lives here.
#include <cstring>
#include <iostream>
#include <string_view>

#include "switchyard/tools/tools.hpp"

int main(int argc, char** argv) {
  if (argc >= 2) {
    std::string_view cmd = argv[1];
    if (cmd == "train") return sy::tools::train_main(argc - 1, argv + 1);
    if (cmd == "calibrate") return sy::tools::calibrate_main(argc - 1, argv + 1);
    if (cmd == "eval") return sy::tools::eval_main(argc - 1, argv + 1);
    if (cmd == "eval-semantic") return sy::tools::eval_semantic_main(argc - 1, argv + 1);
  }
  std::cerr << "usage: switchyard --config FILE | --check-config FILE | train | calibrate | eval | eval-semantic\n";
  return 2;
}
