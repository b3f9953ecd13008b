// Upstream stub for the streaming benchmark: an OpenAI-compatible server that answers every POST with
// a `chat.completion.chunk` SSE stream of N events, D microseconds apart, over chunked keep-alive HTTP/1.1.
// nginx cannot pace events, so this stands in for it; the floor and Switchyard both stream from it.
//
//   sse_stub --port 0 --events 20 --delay-us 1000
//
// Prints "listening on 127.0.0.1:PORT" once ready. One blocking thread per connection: the benchmark
// drives it with a handful of sequential streams, so simplicity beats scale here. Binds 127.0.0.1 only.
// When the request body contains "include_usage":true (as Switchyard asks upstream), a usage-only chunk
// with empty `choices` precedes [DONE], as OpenAI sends it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace {

struct Options {
  int port = 0;
  int events = 20;
  long delay_us = 1000;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string chunk(std::string_view payload) {
  char len[32];
  std::snprintf(len, sizeof len, "%zx\r\n", payload.size());
  std::string out(len);
  out.append(payload);
  out.append("\r\n");
  return out;
}

std::string event(int i) {
  std::string data =
      R"({"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",)"
      R"("system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"token)" +
      std::to_string(i) + R"( "},"logprobs":null,"finish_reason":null}]})";
  return "data: " + data + "\n\n";
}

const std::string& final_event() {
  static const std::string s =
      R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",)"
      R"("system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})"
      "\n\n";
  return s;
}

std::string usage_event(int completion_tokens) {
  return R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",)"
         R"("system_fingerprint":"fp_bench","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":)" +
         std::to_string(completion_tokens) + R"(,"total_tokens":)" + std::to_string(12 + completion_tokens) + "}}\n\n";
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

void serve(int fd, Options opt) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string buf;
  char tmp[65536];
  for (;;) {
    // Read the head.
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(tmp, static_cast<size_t>(n));
    }
    std::string_view head(buf.data(), head_end);
    size_t content_length = 0;
    bool close_after = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
      if (iequals_prefix(line, "content-length:")) content_length = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
      if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos) close_after = true;
      pos = next;
    }
    size_t need = head_end + 4 + content_length;
    while (buf.size() < need) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(tmp, static_cast<size_t>(n));
    }
    std::string_view body(buf.data() + head_end + 4, content_length);
    bool usage = body.find("\"include_usage\":true") != std::string_view::npos ||
                 body.find("\"include_usage\": true") != std::string_view::npos;
    buf.erase(0, need);

    // Headers and the first event go out together: the stub itself adds no time to the first event.
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                      "Transfer-Encoding: chunked\r\n";
    out += close_after ? "Connection: close\r\n\r\n" : "\r\n";
    out += chunk(event(0));
    bool ok = write_all(fd, out);
    for (int i = 1; ok && i < opt.events; ++i) {
      if (opt.delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(opt.delay_us));
      ok = write_all(fd, chunk(event(i)));
    }
    if (ok && opt.delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(opt.delay_us));
    std::string tail = chunk(final_event());
    if (usage) tail += chunk(usage_event(opt.events));
    tail += chunk("data: [DONE]\n\n");
    tail += "0\r\n\r\n";
    if (ok) ok = write_all(fd, tail);
    if (!ok || close_after) {
      ::close(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    if (k == "--port") opt.port = std::atoi(argv[i + 1]);
    else if (k == "--events") opt.events = std::max(1, std::atoi(argv[i + 1]));
    else if (k == "--delay-us") opt.delay_us = std::atol(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: sse_stub [--port P] [--events N] [--delay-us D]\n");
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opt.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 1024) != 0) {
    std::perror("sse_stub: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::perror("sse_stub: accept");
      return 1;
    }
    std::thread(serve, fd, opt).detach();
  }
}
