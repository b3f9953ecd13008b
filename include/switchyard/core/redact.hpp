#pragma once
/// Secret redaction: the one function that scrubs credentials from text leaving the process.
///
/// Upstreams echo credentials back ("Incorrect API key provided: sk-...", a 400 that repeats the
/// request headers), and those messages travel into error bodies and logs. Every exit applies the
/// current Redactor: the error-to-JSON mapping (`to_openai_json`, which the Anthropic error shape and
/// mid-stream error events are built from), every log sink (module logs, access log, decision log),
/// and the admin API. It replaces each configured secret value (upstream keys, header values, gateway
/// keys, AWS credentials) and text shaped like a well-known key (`sk-...`, `AKIA...`, `AIza...`,
/// `Bearer <token>`) with "[REDACTED]".
///
/// The process-wide instance is replaced on every config load; `current()` is thread-safe (an atomic
/// shared_ptr) and a Redactor is immutable.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sy {

class Redactor {
 public:
  explicit Redactor(std::vector<std::string> secrets);
  /// Returns `text` with secrets and key-shaped tokens replaced.
  std::string apply(std::string_view text) const;
  /// True when `text` holds something `apply` would replace (cheap pre-check for hot exits).
  bool matches(std::string_view text) const;

  /// The redactor in force; never null (shapes only until the first install).
  static std::shared_ptr<const Redactor> current();
  static void install(std::shared_ptr<const Redactor> redactor);
  /// Shorthand for current()->apply(text).
  static std::string scrub(std::string_view text);

  static constexpr std::string_view kMask = "[REDACTED]";
  /// Secrets shorter than this are not matched as text (they would mask ordinary words).
  static constexpr std::size_t kMinSecret = 6;

 private:
  std::vector<std::string> secrets_;  ///< longest first, so a secret containing another is masked whole
};

}  // namespace sy
