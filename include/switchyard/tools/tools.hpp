#pragma once
/// Offline sub-commands of the `switchyard` binary. Each takes the arguments after its name
/// (argv[0] is the sub-command name) and returns the process exit code.
namespace sy::tools {
int train_main(int argc, char** argv);          ///< switchyard train
int calibrate_main(int argc, char** argv);      ///< switchyard calibrate
int eval_main(int argc, char** argv);           ///< switchyard eval
int eval_semantic_main(int argc, char** argv);  ///< switchyard eval-semantic
int train_semantic_main(int argc, char** argv); ///< switchyard train-semantic
}  // namespace sy::tools
