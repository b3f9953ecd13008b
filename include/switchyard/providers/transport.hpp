#pragma once
/// How bytes reach a provider: over HTTP(S) with a keep-alive pool, or in-process for the mock.
///
/// Transports are shared by all worker threads and must be thread-safe; everything per connection lives
/// in the `WorkerContext` of the calling thread (its connection pool), so an exchange runs entirely on
/// the io_context of the coroutine that started it.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/providers/http_types.hpp"

namespace sy::providers {

class HttpPool;  // per-worker keep-alive pool, defined by the HTTP transport

/// Per-worker state handed down the request path. Owned by the worker; lives as long as its thread.
struct WorkerContext {
  HttpPool* pool = nullptr;
  int index = 0;
};

/// One upstream exchange whose response head has arrived. Owned by the caller and used from the
/// coroutine that created it. Destroying it before the body ended closes the connection (that is how a
/// client disconnect cancels the upstream request).
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const ResponseHead& head() const = 0;
  /// Appends the next piece of the body to `out`. Returns false once the body has ended (nothing
  /// appended). Applies the provider's idle timeout and the total deadline.
  virtual boost::asio::awaitable<Result<bool>> read_some(std::string& out) = 0;
  /// Appends the body bytes already received, without waiting. True once the body has ended (a small
  /// answer usually arrives with its head): read_all then finishes without a suspension.
  virtual Result<bool> take_buffered(std::string& /*out*/) { return false; }
  /// Reads the rest of the body into `out`, up to `limit` bytes.
  boost::asio::awaitable<Status> read_all(std::string& out, std::size_t limit);
  /// Time from sending the request to the response head.
  std::chrono::microseconds time_to_head{0};
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends `request` to the provider and waits for the response head (connect and first-byte
  /// timeouts apply). `deadline` bounds the whole exchange including the body.
  virtual boost::asio::awaitable<Result<std::unique_ptr<Exchange>>> start(
      WorkerContext& ctx, const config::ProviderConfig& provider, UpstreamRequest request,
      std::chrono::steady_clock::time_point deadline) = 0;
};

/// The HTTP(S) transport (Beast + OpenSSL, SNI and certificate verification, keep-alive pool).
std::shared_ptr<Transport> make_http_transport();
/// The in-process mock provider: deterministic OpenAI-compatible answers, latency, pacing, failures.
std::shared_ptr<Transport> make_mock_transport();

struct HttpPoolDeleter {
  void operator()(HttpPool* pool) const;
};
using HttpPoolPtr = std::unique_ptr<HttpPool, HttpPoolDeleter>;
/// Creates a per-worker pool. Use and destroy it only on that worker's thread, before its io_context.
HttpPoolPtr make_http_pool();

}  // namespace sy::providers
