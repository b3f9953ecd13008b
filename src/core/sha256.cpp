#include "switchyard/core/sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace sy {

Sha256 sha256(std::string_view data) {
  // One context per thread and the digest fetched once: the one-shot EVP_Digest allocates a context
  // and looks the algorithm up on every call, which a per-request key check would pay each time.
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    ~Ctx() {
      EVP_MD_free(md);
      EVP_MD_CTX_free(ctx);
    }
  };
  thread_local Ctx c;
  Sha256 out{};
  unsigned int len = 0;
  EVP_DigestInit_ex2(c.ctx, c.md, nullptr);
  EVP_DigestUpdate(c.ctx, data.data(), data.size());
  EVP_DigestFinal_ex(c.ctx, out.data(), &len);
  return out;
}

std::string to_hex(const Sha256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

bool parse_sha256_hex(std::string_view hex, Sha256& out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool digest_equal(const Sha256& a, const Sha256& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace sy
