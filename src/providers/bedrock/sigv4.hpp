#pragma once
/// AWS Signature Version 4 (header-based), on OpenSSL's libcrypto. Pure functions, thread-safe.
/// Checked against AWS's published SigV4 test suite (tests/testdata/sigv4/).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/providers/http_types.hpp"

namespace sy::providers::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< temporary credentials only; sent as x-amz-security-token
};

/// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the optional AWS_SESSION_TOKEN, read when called (so
/// rotated credentials are picked up without a restart). nullopt when the key pair is incomplete.
std::optional<Credentials> credentials_from_env();

/// Raw 32-byte HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view data);
/// ISO 8601 basic format in UTC, "20150830T123600Z".
std::string amz_date(std::chrono::system_clock::time_point t);
/// RFC 3986 percent-encoding of everything but unreserved characters (and '/' when `keep_slash`).
std::string uri_encode(std::string_view s, bool keep_slash);

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;  ///< the Authorization header value
};

/// Signs a request. `headers` are exactly the headers to sign, in any order and case; they must include
/// `host` and `x-amz-date` (the date of the credential scope is taken from it). `target` is the path
/// and query as sent on the wire: the path is encoded once more, as SigV4 asks for every service but
/// S3; the query is decoded and re-encoded. `payload_hash` is sha256_hex of the body.
Signature sign(std::string_view method, std::string_view target, const Headers& headers,
               std::string_view payload_hash, const Credentials& credentials, std::string_view region,
               std::string_view service);

}  // namespace sy::providers::sigv4
