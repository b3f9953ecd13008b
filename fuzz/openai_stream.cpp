// Target: the `openai` wire format's stream_decoder (upstream stream bytes in fuzzer-chosen pieces, then finish).
// Input format and invariants: fuzz_provider.hpp.
#define SY_FUZZ_PROVIDER_TYPE "openai"
#define SY_FUZZ_STREAM
#include "fuzz_provider.hpp"
