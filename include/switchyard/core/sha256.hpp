#pragma once
/// SHA-256 (OpenSSL): gateway key hashes, prompt fingerprints, AWS SigV4 payload hashes.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sy {

using Sha256 = std::array<unsigned char, 32>;

/// The digest of `data`. Thread-safe; no allocation.
Sha256 sha256(std::string_view data);
/// Lower-case hex of a digest, and of the digest of `data`.
std::string to_hex(const Sha256& digest);
std::string sha256_hex(std::string_view data);
/// 64 hex digits (either case) to a digest; nullopt-like false when `hex` is not one.
bool parse_sha256_hex(std::string_view hex, Sha256& out);
/// Compares two digests in time independent of where they differ.
bool digest_equal(const Sha256& a, const Sha256& b);

}  // namespace sy
