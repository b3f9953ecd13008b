#include "switchyard/providers/transport.hpp"

namespace sy::providers {

boost::asio::awaitable<Status> Exchange::read_all(std::string& out, std::size_t limit) {
  for (;;) {
    auto more = co_await read_some(out);
    if (!more) co_return std::move(more).error();
    if (!*more) co_return ok_status();
    if (out.size() > limit) {
      co_return Error::make(ErrorKind::connection,
                            "upstream response body exceeds " + std::to_string(limit) + " bytes");
    }
  }
}

}  // namespace sy::providers
