// Streaming latency client: sends N sequential streaming POSTs over one keep-alive connection and
// measures, per request, the time to the first complete SSE event (TTFE: request written -> first
// "\n\n"-terminated event decoded) and the total (-> last chunk of the chunked body). wrk cannot see
// either, hence this tool.
//
//   sse_client --port P --body FILE [--path /v1/chat/completions] [--requests 200] [--warmup 10]
//              [--duration-s S]   (with --duration-s: repeat until S seconds passed, for soak runs)
//
// Prints one JSON object: {"requests", "errors", "events_per_stream", "elapsed_s", "ttfe_ms": {p50, p90,
// p99, mean, max}, "total_ms": {...}, "first_error", "ttfe_samples": [...], "total_samples": [...]}.
// A request counts as an error when the status is not 200, the body is not chunked SSE ending in
// "data: [DONE]", or the connection fails (it is then reopened).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string path = "/v1/chat/completions";
  std::string body_file;
  int requests = 200;
  int warmup = 10;
  double duration_s = 0;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Sample {
  double ttfe_ms = 0;
  double total_ms = 0;
  int events = 0;
};

/// Reads one response from `fd`, keeping any surplus in `buf`. Returns an error text or "".
std::string read_response(int fd, std::string& buf, Clock::time_point t0, Sample& s, bool& keep_alive) {
  char tmp[65536];
  auto fill = [&]() -> bool {
    ssize_t n;
    do n = ::recv(fd, tmp, sizeof tmp, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  };
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return "connection closed before the response head";
  }
  std::string head = buf.substr(0, head_end);
  buf.erase(0, head_end + 4);
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  keep_alive = lower.find("connection: close") == std::string::npos;
  int status = 0;
  std::sscanf(head.c_str(), "HTTP/1.%*d %d", &status);
  bool chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
  if (status != 200 || !chunked) {
    keep_alive = false;  // do not bother parsing an error body; reconnect
    return "status " + std::to_string(status) + (chunked ? "" : " (not chunked)") + ": " + head.substr(0, 200);
  }
  // Decode chunks; watch the decoded body for the first complete event.
  std::string decoded;
  bool first_seen = false;
  for (;;) {
    size_t eol;
    while ((eol = buf.find("\r\n")) == std::string::npos) {
      if (!fill()) return "connection closed inside the chunked body";
    }
    size_t size = std::strtoul(buf.substr(0, eol).c_str(), nullptr, 16);
    while (buf.size() < eol + 2 + size + 2) {
      if (!fill()) return "connection closed inside a chunk";
    }
    if (size == 0) {
      // Last chunk (no trailers expected).
      buf.erase(0, eol + 4);
      s.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      break;
    }
    decoded.append(buf, eol + 2, size);
    buf.erase(0, eol + 2 + size + 2);
    if (!first_seen && decoded.find("\n\n") != std::string::npos) {
      first_seen = true;
      s.ttfe_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
  }
  for (size_t p = 0; (p = decoded.find("data:", p)) != std::string::npos; p += 5) ++s.events;
  if (!first_seen) return "stream carried no complete event";
  size_t done = decoded.rfind("data: [DONE]");
  if (done == std::string::npos || decoded.find("data:", done + 5) != std::string::npos) return "stream did not end with [DONE]";
  if (decoded.find("\"error\"") != std::string::npos) return "stream carried an error event";
  return "";
}

struct Stats {
  double p50, p90, p99, mean, max;
};

Stats stats(std::vector<double> v) {
  if (v.empty()) return {0, 0, 0, 0, 0};
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  return {pct(0.50), pct(0.90), pct(0.99), sum / static_cast<double>(v.size()), v.back()};
}

std::string json_stats(const Stats& s) {
  char out[256];
  std::snprintf(out, sizeof out, R"({"p50":%.4f,"p90":%.4f,"p99":%.4f,"mean":%.4f,"max":%.4f})", s.p50, s.p90, s.p99,
                s.mean, s.max);
  return out;
}

std::string json_array(const std::vector<double>& v) {
  std::string out = "[";
  char num[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(num, sizeof num, i ? ",%.4f" : "%.4f", v[i]);
    out += num;
  }
  return out + "]";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    if (k == "--port") opt.port = std::atoi(argv[i + 1]);
    else if (k == "--path") opt.path = argv[i + 1];
    else if (k == "--body") opt.body_file = argv[i + 1];
    else if (k == "--requests") opt.requests = std::atoi(argv[i + 1]);
    else if (k == "--warmup") opt.warmup = std::atoi(argv[i + 1]);
    else if (k == "--duration-s") opt.duration_s = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (opt.port <= 0 || opt.body_file.empty()) {
    std::fprintf(stderr, "usage: sse_client --port P --body FILE [--path P] [--requests N] [--warmup N] [--duration-s S]\n");
    return 2;
  }
  std::ifstream in(opt.body_file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  const std::string request = "POST " + opt.path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(opt.port) +
                              "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;

  std::vector<double> ttfe, total;
  int errors = 0, events = 0, done = 0;
  std::string first_error;
  int fd = -1;
  std::string buf;
  auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.duration_s));
  for (int i = 0;; ++i) {
    bool measured = i >= opt.warmup;
    if (opt.duration_s > 0) {
      if (Clock::now() >= deadline) break;
    } else if (i >= opt.warmup + opt.requests) {
      break;
    }
    if (fd < 0) {
      fd = connect_to(opt.port);
      buf.clear();
      if (fd < 0) {
        if (measured) ++errors, ++done;
        if (first_error.empty()) first_error = "connect failed";
        continue;
      }
    }
    Sample s;
    bool keep_alive = true;
    auto t0 = Clock::now();
    std::string err = write_all(fd, request) ? read_response(fd, buf, t0, s, keep_alive) : "write failed";
    if (!err.empty() || !keep_alive) {
      ::close(fd);
      fd = -1;
    }
    if (!measured) continue;
    ++done;
    if (!err.empty()) {
      ++errors;
      if (first_error.empty()) first_error = err;
      continue;
    }
    ttfe.push_back(s.ttfe_ms);
    total.push_back(s.total_ms);
    events = s.events;
  }
  if (fd >= 0) ::close(fd);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(R"({"requests":%d,"errors":%d,"events_per_stream":%d,"elapsed_s":%.3f,"ttfe_ms":%s,"total_ms":%s,"first_error":"%s",)"
              R"("ttfe_samples":%s,"total_samples":%s})" "\n",
              done, errors, events, elapsed, json_stats(stats(ttfe)).c_str(), json_stats(stats(total)).c_str(),
              json_escape(first_error).c_str(), json_array(ttfe).c_str(), json_array(total).c_str());
  return 0;
}
