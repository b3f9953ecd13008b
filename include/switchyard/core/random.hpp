#pragma once
/// The process's source of non-cryptographic randomness: one generator per thread, seeded from
/// std::random_device, so no lock and no shared state (request ids, deployment selection, backoff jitter).
#include <random>

namespace sy {
std::mt19937_64& thread_rng();
}  // namespace sy
