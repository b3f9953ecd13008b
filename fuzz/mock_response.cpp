// Target: the `mock` wire format's decode_response (a 2xx body -> the OpenAI body and usage).
// Input format and invariants: fuzz_provider.hpp.
#define SY_FUZZ_PROVIDER_TYPE "mock"
#define SY_FUZZ_RESPONSE
#include "fuzz_provider.hpp"
