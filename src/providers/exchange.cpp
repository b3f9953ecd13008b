#include "switchyard/providers/transport.hpp"

namespace sy::providers {

namespace {
Error too_long(std::size_t limit) {
  return Error::make(ErrorKind::connection, "upstream response body exceeds " + std::to_string(limit) + " bytes");
}
}  // namespace

boost::asio::awaitable<Status> Exchange::read_all(std::string& out, std::size_t limit) {
  auto ended = take_buffered(out);
  if (!ended) co_return std::move(ended).error();
  if (out.size() > limit) co_return too_long(limit);
  if (*ended) co_return ok_status();
  for (;;) {
    auto more = co_await read_some(out);
    if (!more) co_return std::move(more).error();
    if (!*more) co_return ok_status();
    if (out.size() > limit) co_return too_long(limit);
  }
}

}  // namespace sy::providers
