#pragma once
// Asio idioms every module that does socket I/O uses the same way.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

namespace sy::net_io {

/// `co_await op(..., kTuple)`: the error comes back as a value, never as an exception.
inline constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

/// Completion condition for async_write: as much per write as the socket takes. Asio's default caps each
/// write at 64 KiB, which sent a 1 MiB body in 17 system calls.
inline std::size_t whole_writes(const boost::system::error_code& e, std::size_t) {
  return e ? 0 : std::size_t{16} << 20;
}

}  // namespace sy::net_io
