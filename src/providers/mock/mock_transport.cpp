// The built-in mock provider: an in-process OpenAI-compatible server for the demo and tests.
// Deterministic replies (a fixed text or an echo of the prompt), configurable latency and pacing,
// usage filled in, streaming, and failure injection (status codes, hangs) for the reliability tests.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <ctime>
#include <mutex>
#include <unordered_map>

#include "switchyard/core/hash.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/providers/transport.hpp"

namespace sy::providers {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

net::awaitable<bool> sleep_until(Clock::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_at(t);
  auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  co_return !ec;
}

std::string hex(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return s;
}

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                      static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

class MockExchange final : public Exchange {
 public:
  MockExchange(ResponseHead head, std::vector<std::string> pieces, std::chrono::microseconds pace,
               Clock::time_point deadline)
      : head_(std::move(head)), pieces_(std::move(pieces)), pace_(pace), deadline_(deadline) {}

  const ResponseHead& head() const override { return head_; }

  net::awaitable<Result<bool>> read_some(std::string& out) override {
    if (next_ >= pieces_.size()) co_return false;
    if (pace_.count() > 0 && next_ > 0) {
      auto when = Clock::now() + pace_;
      if (when > deadline_) {
        co_await sleep_until(deadline_);
        co_return Error::make(ErrorKind::timeout, "mock upstream exceeded the request deadline");
      }
      if (!co_await sleep_until(when)) co_return Error::make(ErrorKind::cancelled, "the client left; the mock stream was abandoned");
    }
    out.append(pieces_[next_++]);
    co_return true;
  }

 private:
  ResponseHead head_;
  std::vector<std::string> pieces_;
  std::chrono::microseconds pace_;
  Clock::time_point deadline_;
  size_t next_ = 0;
};

/// Splits a reply into word-sized tokens (a word plus its trailing space).
std::vector<std::string> tokens_of(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    j = j == std::string_view::npos ? text.size() : j + 1;
    out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

/// One token's entry of an OpenAI `logprobs.content` array: the token at `lp`, its runner-up taking the
/// rest of the probability mass (yes <-> no for judges).
std::string logprob_entry(const std::string& tok, double lp) {
  std::string low;
  for (char c : tok) {
    if (c != ' ') low.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string alt = low == "yes" ? "no" : low == "no" ? "yes" : "<alt>";
  double alt_lp = std::log(std::max(1e-9, 1.0 - std::exp(lp)));
  char nums[64];
  std::snprintf(nums, sizeof nums, "%.6f", lp);
  std::string lps = nums;
  std::snprintf(nums, sizeof nums, "%.6f", alt_lp);
  std::string alts = nums;
  return R"({"token":)" + json::quote(tok) + R"(,"logprob":)" + lps + R"(,"bytes":null,"top_logprobs":[{"token":)" +
         json::quote(tok) + R"(,"logprob":)" + lps + R"(,"bytes":null},{"token":)" + json::quote(alt) +
         R"(,"logprob":)" + alts + R"(,"bytes":null}]})";
}

std::int64_t estimate_prompt_tokens(const Request& r) {
  std::int64_t bytes = static_cast<std::int64_t>(r.all_text().size());
  return (bytes + 3) / 4 + 3 * static_cast<std::int64_t>(r.messages().size()) + 3;
}

std::string usage_json(std::int64_t prompt, std::int64_t completion) {
  return R"({"prompt_tokens":)" + std::to_string(prompt) + R"(,"completion_tokens":)" + std::to_string(completion) +
         R"(,"total_tokens":)" + std::to_string(prompt + completion) + "}";
}

class MockTransport final : public Transport {
 public:
  net::awaitable<Result<std::unique_ptr<Exchange>>> start(WorkerContext&, const config::ProviderConfig& provider,
                                                          UpstreamRequest request,
                                                          Clock::time_point deadline) override {
    const auto& m = provider.mock;
    auto started = Clock::now();
    auto timeout = [&]() -> Result<std::unique_ptr<Exchange>> {
      return Error::make(ErrorKind::timeout, "mock upstream did not answer before the deadline");
    };
    if (m.hang) {
      co_await sleep_until(deadline);
      co_return timeout();
    }
    if (m.latency.count() > 0) {
      auto when = started + m.latency;
      if (when > deadline) {
        co_await sleep_until(deadline);
        co_return timeout();
      }
      co_await sleep_until(when);
    }

    ResponseHead head;
    head.headers.push_back({"content-type", "application/json"});
    if (should_fail(provider)) {
      head.status = m.fail_status;
      if (m.fail_status == 429) head.headers.push_back({"retry-after-ms", "1000"});
      std::string body = R"({"error":{"message":"mock failure injected","type":"mock_error","code":"mock_)" +
                         std::to_string(m.fail_status) + "\"}}";
      co_return finish(std::move(head), {std::move(body)}, {}, deadline, started);
    }

    Endpoint ep = request.target.ends_with("/embeddings")    ? Endpoint::embeddings
                  : request.target.ends_with("/completions") && !request.target.ends_with("/chat/completions")
                      ? Endpoint::completions
                      : Endpoint::chat;
    auto parsed = Request::parse(ep, request.body.str());
    if (!parsed) {
      head.status = 400;
      co_return finish(std::move(head), {to_openai_json(parsed.error())}, {}, deadline, started);
    }
    const Request& r = **parsed;
    head.status = 200;
    if (ep == Endpoint::embeddings) co_return finish(std::move(head), {embeddings(r)}, {}, deadline, started);

    // A scripted reply when the prompt matches, else the fixed reply, else an echo.
    const config::MockScript* script = nullptr;
    for (const auto& sc : m.script) {
      if (r.last_user_text().find(sc.when) != std::string_view::npos) {
        script = &sc;
        break;
      }
    }
    std::string text = script ? script->replies.front() : m.reply;
    if (text.empty()) {
      std::string_view said = r.last_user_text().substr(0, 200);
      text = "This is a mock response from " + r.model() + ". You said: " + std::string(said);
    }
    auto toks = tokens_of(text);
    std::string finish_reason = script ? script->finish_reason : "stop";
    if (r.max_tokens() && static_cast<std::int64_t>(toks.size()) > *r.max_tokens()) {
      toks.resize(static_cast<size_t>(*r.max_tokens()));
      finish_reason = "length";
    }
    std::int64_t prompt_tokens = estimate_prompt_tokens(r);
    auto completion_tokens = static_cast<std::int64_t>(toks.size());
    std::string id = (ep == Endpoint::chat ? "chatcmpl-mock" : "cmpl-mock") + hex(fnv1a(r.body())).substr(0, 12);
    std::string created = std::to_string(std::time(nullptr));
    std::string model = json::quote(r.model());

    const auto* lp_field = r.fields().find("logprobs");
    bool want_logprobs = lp_field && lp_field->value == "true";
    double lp = script ? script->logprob : m.logprob;
    if (!r.stream()) {
      std::string joined;
      for (const auto& t : toks) joined += t;
      std::string body;
      if (ep == Endpoint::chat) {
        // n choices (scripted replies cycle), each with per-token logprobs when asked for.
        std::int64_t n = 1;
        if (const auto* f = r.fields().find("n"); f && f->type == json::Type::number) {
          n = std::clamp<std::int64_t>(json::integer_value(f->value).value_or(1), 1, 16);
        }
        std::string choices;
        completion_tokens = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          std::string reply = script ? script->replies[static_cast<size_t>(i) % script->replies.size()] : joined;
          auto rtoks = tokens_of(reply);
          std::string fr = finish_reason;
          if (r.max_tokens() && static_cast<std::int64_t>(rtoks.size()) > *r.max_tokens()) {
            rtoks.resize(static_cast<size_t>(*r.max_tokens()));
            fr = "length";
          }
          reply.clear();
          for (const auto& t : rtoks) reply += t;
          completion_tokens += static_cast<std::int64_t>(rtoks.size());
          std::string logprobs = "null";
          if (want_logprobs) {
            logprobs = R"({"content":[)";
            for (size_t k = 0; k < rtoks.size(); ++k) {
              if (k) logprobs += ",";
              logprobs += logprob_entry(rtoks[k], lp);
            }
            logprobs += "]}";
          }
          if (i) choices += ",";
          choices += R"({"index":)" + std::to_string(i) + R"(,"message":{"role":"assistant","content":)" + json::quote(reply) +
                     R"(,"refusal":null},"logprobs":)" + logprobs + R"(,"finish_reason":")" + fr + R"("})";
        }
        body = R"({"id":")" + id + R"(","object":"chat.completion","created":)" + created + R"(,"model":)" + model +
               R"(,"choices":[)" + choices + R"(],"usage":)" + usage_json(prompt_tokens, completion_tokens) +
               R"(,"system_fingerprint":"mock"})";
      } else {
        body = R"({"id":")" + id + R"(","object":"text_completion","created":)" + created + R"(,"model":)" + model +
               R"(,"choices":[{"index":0,"text":)" + json::quote(joined) + R"(,"logprobs":null,"finish_reason":")" +
               finish_reason + R"("}],"usage":)" + usage_json(prompt_tokens, completion_tokens) + "}";
      }
      co_return finish(std::move(head), {std::move(body)}, {}, deadline, started);
    }

    head.headers[0].value = "text/event-stream";
    std::vector<std::string> frames;
    frames.reserve(toks.size() + 4);
    std::string prefix = R"(data: {"id":")" + id + R"(","object":")" +
                         (ep == Endpoint::chat ? "chat.completion.chunk" : "text_completion") + R"(","created":)" +
                         created + R"(,"model":)" + model + R"(,"choices":[)";
    if (ep == Endpoint::chat) {
      frames.push_back(prefix + R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})" + "\n\n");
      for (const auto& t : toks) {
        // Streams carry each token's logprobs in its chunk, as OpenAI's do.
        std::string logprobs = want_logprobs ? R"(,"logprobs":{"content":[)" + logprob_entry(t, lp) + "]}" : "";
        frames.push_back(prefix + R"({"index":0,"delta":{"content":)" + json::quote(t) + "}" + logprobs +
                         R"(,"finish_reason":null}]})" + "\n\n");
      }
      frames.push_back(prefix + R"({"index":0,"delta":{},"finish_reason":")" + finish_reason + R"("}]})" + "\n\n");
    } else {
      for (const auto& t : toks) {
        frames.push_back(prefix + R"({"index":0,"text":)" + json::quote(t) + R"(,"finish_reason":null}]})" + "\n\n");
      }
      frames.push_back(prefix + R"({"index":0,"text":"","finish_reason":")" + finish_reason + R"("}]})" + "\n\n");
    }
    if (r.client_wants_usage()) {
      frames.push_back(prefix + "]," + R"("usage":)" + usage_json(prompt_tokens, completion_tokens) + "}\n\n");
    }
    frames.push_back("data: [DONE]\n\n");
    std::chrono::microseconds pace{0};
    if (m.tokens_per_second > 0) pace = std::chrono::microseconds(static_cast<std::int64_t>(1e6 / m.tokens_per_second));
    co_return finish(std::move(head), std::move(frames), pace, deadline, started);
  }

 private:
  static Result<std::unique_ptr<Exchange>> finish(ResponseHead head, std::vector<std::string> pieces,
                                                  std::chrono::microseconds pace, Clock::time_point deadline,
                                                  Clock::time_point started) {
    auto ex = std::make_unique<MockExchange>(std::move(head), std::move(pieces), pace, deadline);
    ex->time_to_head = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    return std::unique_ptr<Exchange>(std::move(ex));
  }

  static std::string embeddings(const Request& r) {
    std::int64_t dims = 16;
    if (const auto* d = r.fields().find("dimensions"); d && d->type == json::Type::number) {
      dims = std::clamp<std::int64_t>(json::integer_value(d->value).value_or(16), 1, 4096);
    }
    std::vector<std::string> inputs;
    if (r.payload().starts_with('"')) {
      inputs.push_back(json::string_value(r.payload()).value_or(""));
    } else if (auto items = json::scan_array(r.payload())) {
      for (const auto& it : *items) inputs.push_back(it.type == json::Type::string ? json::string_value(it.value).value_or("") : std::string(it.value));
    }
    bool base64 = false;
    if (const auto* f = r.fields().find("encoding_format"); f && f->type == json::Type::string) {
      base64 = json::string_value(f->value).value_or("") == "base64";
    }
    std::string data;
    std::int64_t tokens = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      tokens += static_cast<std::int64_t>(inputs[i].size() + 3) / 4;
      std::uint64_t h = fnv1a(inputs[i]);
      std::string vec;
      double norm = 0;
      std::vector<double> v(static_cast<size_t>(dims));
      for (auto& x : v) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        x = static_cast<double>(h % 20001) / 10000.0 - 1.0;
        norm += x * x;
      }
      norm = std::sqrt(norm);
      for (auto& x : v) x = norm > 0 ? x / norm : 0.0;
      if (base64) {
        // OpenAI's base64 format: little-endian float32s.
        std::string bytes;
        for (double x : v) {
          auto f = static_cast<float>(x);
          char b[4];
          std::memcpy(b, &f, 4);
          bytes.append(b, 4);
        }
        vec = "\"" + base64_encode(bytes) + "\"";
      } else {
        vec = "[";
        for (size_t k = 0; k < v.size(); ++k) {
          if (k) vec.push_back(',');
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.6f", v[k]);
          vec.append(buf);
        }
        vec += "]";
      }
      if (i) data.push_back(',');
      data += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)" + vec + "}";
    }
    return R"({"object":"list","data":[)" + data + R"(],"model":)" + json::quote(r.model()) +
           R"(,"usage":{"prompt_tokens":)" + std::to_string(tokens) + R"(,"total_tokens":)" + std::to_string(tokens) + "}}";
  }

  // Fails exactly fail_rate of the requests, spread evenly, per provider.
  bool should_fail(const config::ProviderConfig& p) {
    if (p.mock.fail_rate <= 0) return false;
    std::atomic<std::uint64_t>* counter;
    {
      std::lock_guard lock(mu_);
      counter = &counters_[p.name];
    }
    std::uint64_t n = counter->fetch_add(1, std::memory_order_relaxed);
    double r = p.mock.fail_rate;
    return static_cast<std::uint64_t>(static_cast<double>(n + 1) * r) > static_cast<std::uint64_t>(static_cast<double>(n) * r);
  }

  std::mutex mu_;
  std::unordered_map<std::string, std::atomic<std::uint64_t>> counters_;
};

}  // namespace

std::shared_ptr<Transport> make_mock_transport() { return std::make_shared<MockTransport>(); }

}  // namespace sy::providers
