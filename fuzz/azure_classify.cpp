// Target: the `azure` wire format's classify_error (status, headers and body of a non-2xx answer).
// Input format and invariants: fuzz_provider.hpp.
#define SY_FUZZ_PROVIDER_TYPE "azure"
#define SY_FUZZ_CLASSIFY
#include "fuzz_provider.hpp"
