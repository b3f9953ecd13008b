// Cascade stage: ask the cheapest model first, judge its answer, and pay for a stronger model only
// when the answer is judged not good enough. Every call goes through the dispatcher, so limits,
// cooldowns and failover apply to each step. Two modes:
//
//  - verify (default): steps cheap -> expensive, each with an acceptance threshold on the weighted
//    score of the verifiers (logprob confidence, answer heuristics, self-verification by a judge model,
//    sample agreement, a learned answer scorer). The last step is routed like any request, so it
//    streams live; an accepted earlier answer is replayed to a streaming client as SSE at once. With
//    `stream_early: {tokens: N}`, a streaming client's earlier steps are streamed instead: the step is
//    requested as a stream with logprobs, judged by the logprob verifiers on its first N tokens, and
//    then either relayed live (the held prefix first) or cancelled and escalated.
//  - review: a cheap draft, a reviewer model checks it against a rubric, a frontier model rewrites it
//    when the reviewer flags problems.
//
// The cost of every call (verifier calls included) is summed into the response's cost; the path taken
// is in `x-switchyard-cascade` (e.g. "small:rejected(0.31) -> large:routed",
// "small:accepted-early(0.93@16)").
#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/numbers.hpp"
#include "switchyard/learn/answer_extraction.hpp"
#include "switchyard/learn/answer_heuristics.hpp"
#include "switchyard/learn/answer_scorer.hpp"
#include "switchyard/learn/json_schema.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

std::string fmt2(double v) { return fixed(v, 2); }

struct Step {
  std::string model;
  double threshold = 0.5;
};

struct Verifier {
  enum class Type { logprob, heuristics, self_verify, agreement, scorer };
  Type type = Type::logprob;
  double weight = 1;
  std::string metric = "mean";  // logprob: mean | min | margin
  std::string judge;            // self_verify: model asked (empty: the step's own model)
  int samples = 3;              // agreement: n
  std::shared_ptr<const learn::AnswerExtractor> extractor;
  std::shared_ptr<const learn::AnswerScorer> scorer;
  bool final_answer = false;    // heuristics: expect a stated final answer
  std::string name() const {
    switch (type) {
      case Type::logprob: return "logprob";
      case Type::heuristics: return "heuristics";
      case Type::self_verify: return "self_verify";
      case Type::agreement: return "agreement";
      case Type::scorer: return "scorer";
    }
    return "?";
  }
};

/// One model call made by the stage, parsed.
struct Call {
  bool ok = false;
  Error error;
  Json body;  // the chat.completion
  DispatchTrace trace;
  Usage usage;
  double cost = 0;
};

/// What the stage's own calls cost: USD, and time spent waiting on upstreams (not proxy overhead).
struct Spend {
  double usd = 0;
  std::chrono::microseconds upstream{0};
  void add(double cost, const DispatchTrace& t) {
    usd += cost;
    upstream += t.upstream_time;
  }
  /// Writes the totals into `d` once its trace is set: the server times the call in `d.trace` itself.
  void settle(Decision& d) const {
    d.spent_usd = usd;
    d.upstream_time = std::max(upstream - d.trace.upstream_time, std::chrono::microseconds{0});
  }
};

std::string answer_text(const Json& choice) {
  const auto& msg = choice.value("message", Json::object());
  auto it = msg.find("content");
  return it != msg.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// One generated token's logprob and the probability of its best alternative (0 when none is given).
struct TokenLogprob {
  double logprob = -100;
  double runner_up = 0;
};

/// An OpenAI `logprobs.content` entry ({"token", "logprob", "top_logprobs": [...]}), from a parsed tree.
TokenLogprob token_logprob(const Json& t) {
  TokenLogprob out{t.value("logprob", -100.0), 0};
  for (const auto& alt : t.value("top_logprobs", Json::array())) {
    double p = std::exp(alt.value("logprob", -100.0));
    if (alt.value("token", "") != t.value("token", "") && p > out.runner_up) out.runner_up = p;
  }
  return out;
}

/// The same from raw JSON, with the scanner: streamed chunks are read without building trees.
std::optional<TokenLogprob> scan_token_logprob(std::string_view raw) {
  auto o = json::scan_object(raw);
  if (!o) return std::nullopt;
  const json::Field* token = o->find("token");
  const json::Field* lp = o->find("logprob");
  TokenLogprob out{lp ? json::number_value(lp->value).value_or(-100.0) : -100.0, 0};
  const json::Field* top = o->find("top_logprobs");
  if (!top || top->type != json::Type::array) return out;
  auto alts = json::scan_array(top->value);
  if (!alts) return out;
  for (const auto& alt : *alts) {
    if (alt.type != json::Type::object) continue;
    auto a = json::scan_object(alt.value);
    if (!a) continue;
    const json::Field* at = a->find("token");
    const json::Field* alp = a->find("logprob");
    double p = std::exp(alp ? json::number_value(alp->value).value_or(-100.0) : -100.0);
    // Raw token texts compare equal exactly when the strings do (one encoder wrote both).
    bool same = at && token && at->value == token->value;
    if (!same && p > out.runner_up) out.runner_up = p;
  }
  return out;
}

/// Confidence from per-token logprobs over at most `limit` tokens: exp(mean logprob), exp(min
/// logprob), or the mean margin over the runner-up. nullopt without tokens.
std::optional<double> logprob_confidence(const std::vector<TokenLogprob>& tokens, const std::string& metric,
                                         size_t limit = std::numeric_limits<size_t>::max()) {
  size_t n = std::min(tokens.size(), limit);
  if (n == 0) return std::nullopt;
  double sum = 0, mn = 0, margin = 0;
  for (size_t i = 0; i < n; ++i) {
    double l = tokens[i].logprob;
    sum += l;
    mn = i == 0 ? l : std::min(mn, l);
    margin += std::exp(l) - tokens[i].runner_up;
  }
  if (metric == "min") return std::exp(mn);
  if (metric == "margin") return std::clamp(margin / static_cast<double>(n), 0.0, 1.0);
  return std::exp(sum / static_cast<double>(n));
}

/// Collects choice 0's per-token logprobs from a step's stream frames as they arrive.
struct PrefixScan {
  std::vector<TokenLogprob> tokens;  // in order
  size_t content_chunks = 0;         // chunks that carried content
  bool missing_logprobs = false;     // content came without logprobs: the upstream does not stream them

  /// Reads whole frames ("data: {...}\n\n").
  void feed(std::string_view frames) {
    constexpr std::string_view kData = "data: ";
    size_t at = 0;
    while (at < frames.size()) {
      size_t end = frames.find("\n\n", at);
      if (end == std::string_view::npos) end = frames.size();
      std::string_view frame = frames.substr(at, end - at);
      at = end + 2;
      if (frame.starts_with(kData)) chunk(frame.substr(kData.size()));
    }
  }

 private:
  void chunk(std::string_view data) {
    auto obj = json::scan_object(data);
    const json::Field* choices = obj ? obj->find("choices") : nullptr;
    if (!choices || choices->type != json::Type::array) return;
    auto items = json::scan_array(choices->value);
    if (!items) return;
    for (const auto& item : *items) {
      if (item.type != json::Type::object) continue;
      auto choice = json::scan_object(item.value);
      if (!choice) continue;
      const json::Field* index = choice->find("index");
      if (index && json::integer_value(index->value).value_or(0) != 0) continue;
      bool has_content = false;
      if (const json::Field* delta = choice->find("delta"); delta && delta->type == json::Type::object) {
        auto d = json::scan_object(delta->value);
        const json::Field* content = d ? d->find("content") : nullptr;
        has_content = content && content->type == json::Type::string && content->value != "\"\"";
      }
      bool has_logprobs = false;
      if (const json::Field* lp = choice->find("logprobs"); lp && lp->type == json::Type::object) {
        auto l = json::scan_object(lp->value);
        const json::Field* content = l ? l->find("content") : nullptr;
        auto entries = content && content->type == json::Type::array ? json::scan_array(content->value)
                                                                     : Result<std::vector<json::Field>>(Error());
        if (entries) {
          has_logprobs = true;
          for (const auto& e : *entries) {
            if (auto t = scan_token_logprob(e.value)) tokens.push_back(*t);
          }
        }
      }
      if (has_content) ++content_chunks;
      if (has_content && !has_logprobs) missing_logprobs = true;
    }
  }
};

/// One SSE frame with every choice's `logprobs` set to null; other bytes kept as they are.
std::string without_logprobs(std::string_view frame) {
  constexpr std::string_view kData = "data: ";
  if (!frame.starts_with(kData) || frame.find("\"logprobs\"") == std::string_view::npos) return std::string(frame);
  std::string_view data = frame.substr(kData.size());
  size_t last = data.find_last_not_of("\r\n");
  std::string_view tail = last == std::string_view::npos ? data : data.substr(last + 1);
  data = data.substr(0, data.size() - tail.size());
  auto obj = json::scan_object(data);
  const json::Field* choices = obj ? obj->find("choices") : nullptr;
  if (!choices || choices->type != json::Type::array) return std::string(frame);
  auto items = json::scan_array(choices->value);
  if (!items) return std::string(frame);
  std::string arr = "[";
  for (size_t i = 0; i < items->size(); ++i) {
    const json::Field& item = (*items)[i];
    if (i) arr += ',';
    std::optional<json::Object> co;
    if (item.type == json::Type::object) {
      if (auto scanned = json::scan_object(item.value)) co = std::move(*scanned);
    }
    const json::Field* lp = co ? co->find("logprobs") : nullptr;
    if (lp && lp->type != json::Type::null) {
      std::vector<json::Edit> edits{{"logprobs", std::string("null")}};
      arr += json::splice(item.value, *co, edits);
    } else {
      arr += item.value;
    }
  }
  arr += ']';
  std::vector<json::Edit> edits{{"choices", std::move(arr)}};
  return std::string(kData) + json::splice(data, *obj, edits) + std::string(tail);
}

/// A ResponseStream filter: strips the logprobs the cascade asked for from frames the client did not
/// ask them in.
void strip_logprobs(std::string& out, size_t from) {
  std::string_view fresh = std::string_view(out).substr(from);
  if (fresh.find("\"logprobs\"") == std::string_view::npos) return;
  std::string rewritten;
  rewritten.reserve(fresh.size());
  size_t at = 0;
  while (at < fresh.size()) {
    size_t end = fresh.find("\n\n", at);
    end = end == std::string_view::npos ? fresh.size() : end + 2;
    rewritten += without_logprobs(fresh.substr(at, end - at));
    at = end;
  }
  out.replace(from, std::string::npos, rewritten);
}

/// A step streamed early: a live stream to hand to the client, or why not.
struct EarlyStep {
  enum class Verdict { accepted, rejected, failed };
  Verdict verdict = Verdict::failed;
  double score = 0;
  size_t tokens = 0;  // tokens judged
  Error error;        // failed
  std::unique_ptr<ResponseStream> stream;  // accepted: the held prefix first, then live
  DispatchTrace trace;
  double cost = 0;  // rejected or failed: what the abandoned stream cost (estimated when cut short)
  std::vector<std::pair<std::string, double>> scores;
};

/// Largest prefix held while waiting for N tokens with logprobs (a guard against huge chunks).
constexpr size_t kMaxHeldBytes = 1u << 20;

class CascadeStage final : public Stage {
 public:
  static constexpr std::string_view kType = "cascade";
  std::string_view type() const override { return kType; }

  std::string mode = "verify";
  std::vector<Step> steps;
  std::vector<Verifier> verifiers;
  double max_cost_usd = 0;                 // 0: no budget
  std::chrono::milliseconds max_latency{0};  // 0: no budget
  size_t stream_early_tokens = 0;          // 0: streaming clients get held answers
  // review mode
  std::string draft, reviewer, rewriter, rubric;

  net::awaitable<Decision> decide(StageContext& ctx) const override {
    if (mode == "review") co_return co_await review(ctx);
    co_return co_await verify_cascade(ctx);
  }

 private:
  /// Calls `model` with the client's request, changed by `edits` (never streamed: the stage reads it).
  net::awaitable<Call> call(StageContext& ctx, const std::string& model, std::vector<json::Edit> edits) const {
    const Request& orig = ctx.features.request();
    edits.push_back({"stream", std::string("false")});
    edits.push_back({"stream_options", std::nullopt});
    co_return co_await call_body(ctx, model, json::splice(orig.body(), orig.fields(), edits));
  }

  net::awaitable<Call> call_body(StageContext& ctx, const std::string& model, std::string body) const {
    Call c;
    auto req = Request::parse(Endpoint::chat, std::move(body), ctx.features.request().json_limits());
    if (!req) {
      c.error = std::move(req).error();
      co_return c;
    }
    auto out = co_await ctx.dispatcher.dispatch(ctx.worker, **req, model, c.trace);
    if (!out) {
      c.error = std::move(out).error();
      co_return c;
    }
    c.usage = out->usage;
    if (const auto* dep = c.trace.deployment_config) c.cost = cost_usd(c.usage, dep->prices());
    // The answer passed the JSON guard in the step's decoder.
    c.body = Json::parse(out->body, nullptr, false);
    if (c.body.is_discarded() || !c.body.contains("choices") || !c.body["choices"].is_array() ||
        c.body["choices"].empty()) {
      c.error = Error::make(ErrorKind::connection, "the cascade step's answer has no choices");
      co_return c;
    }
    c.ok = true;
    co_return c;
  }

  /// Asks a judge whether `answer` is correct; P(yes) from the first token's logprobs, or the verdict.
  net::awaitable<std::optional<double>> self_verify(StageContext& ctx, const Verifier& v, const std::string& step_model,
                                                    std::string_view question, std::string_view answer,
                                                    Spend& spent) const {
    Json body = {{"model", "judge"},
                 {"messages",
                  Json::array({{{"role", "system"},
                                {"content", "You are a careful grader. Reply with one word: yes or no."}},
                               {{"role", "user"},
                                {"content", "Question:\n" + std::string(question) + "\n\nProposed answer:\n" +
                                                std::string(answer) +
                                                "\n\nIs the proposed answer correct and complete? Reply yes or no."}}})},
                 {"max_tokens", 1},
                 {"temperature", 0},
                 {"logprobs", true},
                 {"top_logprobs", 5}};
    Call c = co_await call_body(ctx, v.judge.empty() ? step_model : v.judge, body.dump());
    spent.add(c.cost, c.trace);
    if (!c.ok) co_return std::nullopt;  // judge down: the caller counts it as "not confident"
    const Json& choice = c.body["choices"][0];
    double p_yes = -1, p_no = -1;
    const Json* lp = choice.contains("logprobs") && choice["logprobs"].is_object() ? &choice["logprobs"] : nullptr;
    if (lp && lp->contains("content") && (*lp)["content"].is_array() && !(*lp)["content"].empty()) {
      for (const auto& t : (*lp)["content"][0].value("top_logprobs", Json::array())) {
        std::string tok = t.value("token", "");
        std::string low;
        for (char ch : tok) {
          if (!std::isspace(static_cast<unsigned char>(ch))) low.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
        }
        double p = std::exp(t.value("logprob", -100.0));
        if (low == "yes" && p_yes < 0) p_yes = p;
        if (low == "no" && p_no < 0) p_no = p;
      }
    }
    if (p_yes >= 0 || p_no >= 0) {
      double y = std::max(p_yes, 0.0), n = std::max(p_no, 0.0);
      co_return y + n > 0 ? y / (y + n) : 0.0;
    }
    std::string verdict = answer_text(choice);
    for (auto& ch : verdict) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    co_return verdict.find("yes") != std::string::npos ? 1.0 : 0.0;
  }

  /// The weighted verifier score of a step's answer; `chosen` is the choice to return (agreement picks
  /// the representative sample). Verifiers that cannot judge count as 0 (not confident).
  net::awaitable<double> judge(StageContext& ctx, const std::string& step_model, Call& c, size_t& chosen,
                               std::vector<std::pair<std::string, double>>& scores, Spend& spent) const {
    const Request& orig = ctx.features.request();
    std::string_view question = orig.last_user_text();
    const Json& choices = c.body["choices"];
    chosen = 0;
    double total = 0, weights = 0;
    for (const auto& v : verifiers) {
      std::optional<double> s;
      const Json& choice = choices[chosen];
      std::string answer = answer_text(choice);
      switch (v.type) {
        case Verifier::Type::logprob: {
          const Json* lp = choice.contains("logprobs") && choice["logprobs"].is_object() ? &choice["logprobs"] : nullptr;
          if (lp && lp->contains("content") && (*lp)["content"].is_array()) {
            std::vector<TokenLogprob> tokens;
            for (const auto& t : (*lp)["content"]) tokens.push_back(token_logprob(t));
            s = logprob_confidence(tokens, v.metric);
          }
          break;
        }
        case Verifier::Type::heuristics: {
          learn::AnswerExpectations expect;
          std::string finish = choice.value("finish_reason", "");
          expect.finish_reason = finish;
          expect.json = orig.response_format() == "json_object" || orig.response_format() == "json_schema";
          expect.final_answer = v.final_answer;
          double h = learn::check_answer(answer, expect).score;
          // Tool calls: arguments must parse and fit the tool's parameter schema.
          const Json& msg = choice.value("message", Json::object());
          if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) {
            // Part of the client's body, which passed the JSON guard.
            Json tools = Json::parse(std::string(orig.fields().find("tools") ? orig.fields().find("tools")->value : "[]"),
                                     nullptr, false);
            for (const auto& tc : msg["tool_calls"]) {
              std::string name = tc.value("function", Json::object()).value("name", "");
              std::string args = tc.value("function", Json::object()).value("arguments", "");
              std::string schema = "{}";
              if (tools.is_array()) {
                for (const auto& t : tools) {
                  const auto& f = t.value("function", Json::object());
                  if (f.value("name", "") == name && f.contains("parameters")) schema = f["parameters"].dump();
                }
              }
              auto parsed = learn::JsonSchema::parse(schema);
              if (parsed) h = std::min(h, learn::check_tool_arguments(args, *parsed).score);
            }
          }
          s = h;
          break;
        }
        case Verifier::Type::scorer:
          s = v.scorer->score(question, answer);
          break;
        case Verifier::Type::agreement: {
          std::vector<std::string> texts;
          for (const auto& ch : choices) texts.push_back(answer_text(ch));
          std::vector<std::string_view> views(texts.begin(), texts.end());
          learn::Agreement a = learn::agree(views, *v.extractor);
          if (a.samples < 2) break;
          s = a.share();
          if (a.representative < choices.size()) chosen = a.representative;
          break;
        }
        case Verifier::Type::self_verify:
          s = co_await self_verify(ctx, v, step_model, question, answer, spent);
          break;
      }
      scores.emplace_back(step_model + ":" + v.name(), s.value_or(-1));
      total += v.weight * s.value_or(0.0);
      weights += v.weight;
    }
    co_return weights > 0 ? total / weights : 0.0;
  }

  /// Whether a step of this request is streamed early: the client streams one choice and the stage
  /// is configured for it (the final step always streams live through the server).
  bool streams_early(const Request& orig) const {
    if (stream_early_tokens == 0 || !orig.stream()) return false;
    const auto* n = orig.fields().find("n");
    return !n || n->value == "1";
  }

  /// Streams a step: asks for a stream with logprobs, holds its frames until `stream_early_tokens`
  /// tokens (or the end of the answer) arrived, and judges that prefix with the logprob verifiers
  /// alone. Accepted, the stream is handed on with the held frames put back in front; rejected, it is
  /// dropped, which closes the upstream connection before anything reached the client. The dispatcher
  /// fails over as usual until a deployment sent its first event.
  net::awaitable<EarlyStep> stream_step(StageContext& ctx, const Step& step) const {
    EarlyStep r;
    const Request& orig = ctx.features.request();
    const auto* lp_field = orig.fields().find("logprobs");
    const bool client_logprobs = lp_field && lp_field->value == "true";
    std::vector<json::Edit> edits;
    if (!client_logprobs) {
      edits.push_back({"logprobs", std::string("true")});
      if (!orig.fields().find("top_logprobs")) edits.push_back({"top_logprobs", std::string("2")});
    }
    auto req = Request::parse(Endpoint::chat, json::splice(orig.body(), orig.fields(), edits), orig.json_limits());
    if (!req) {
      r.error = std::move(req).error();
      co_return r;
    }
    auto out = co_await ctx.dispatcher.dispatch(ctx.worker, **req, step.model, r.trace);
    if (!out) {
      r.error = std::move(out).error();
      co_return r;
    }
    if (!out->stream) {
      r.error = Error::make(ErrorKind::internal, "the cascade step did not stream");
      co_return r;
    }
    std::unique_ptr<ResponseStream> stream = std::move(out->stream);
    const auto* dep = r.trace.deployment_config;
    PrefixScan scan;
    std::string held;
    bool ended = false;
    auto waited_from = Clock::now();
    while (scan.tokens.size() < stream_early_tokens && !scan.missing_logprobs && held.size() < kMaxHeldBytes) {
      size_t from = held.size();
      auto more = co_await stream->next(held);
      if (!more) {
        // Cut short before the client saw anything: the next step answers. Its prefix is paid for.
        r.error = std::move(more).error();
        Usage seen{ctx.features.prompt_tokens(),
                   static_cast<std::int64_t>(std::max(scan.tokens.size(), scan.content_chunks)), 0, false};
        if (dep) r.cost = cost_usd(seen, dep->prices());
        co_return r;
      }
      scan.feed(std::string_view(held).substr(from));
      if (!*more) {
        ended = true;
        break;
      }
    }
    r.trace.upstream_time += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - waited_from);

    r.tokens = std::min(scan.tokens.size(), stream_early_tokens);
    double total = 0, weights = 0;
    for (const auto& v : verifiers) {
      if (v.type != Verifier::Type::logprob) continue;
      std::optional<double> s = logprob_confidence(scan.tokens, v.metric, stream_early_tokens);
      r.scores.emplace_back(step.model + ":logprob@" + std::to_string(r.tokens), s.value_or(-1));
      total += v.weight * s.value_or(0.0);
      weights += v.weight;
    }
    r.score = weights > 0 ? total / weights : 0.0;
    if (r.score >= step.threshold) {
      r.verdict = EarlyStep::Verdict::accepted;
      stream->unread(std::move(held));
      if (!client_logprobs) stream->set_filter(strip_logprobs);
      r.stream = std::move(stream);
      co_return r;
    }
    r.verdict = EarlyStep::Verdict::rejected;
    // A finished stream reported its usage; a cancelled one is priced on what was seen (at least one
    // token per content chunk, more when the logprobs show more).
    Usage used = stream->usage();
    if (!ended || !used.known) {
      used = Usage{ctx.features.prompt_tokens(),
                   static_cast<std::int64_t>(std::max(scan.tokens.size(), scan.content_chunks)), 0, false};
    }
    if (dep) r.cost = cost_usd(used, dep->prices());
    co_return r;  // dropping the stream closes the upstream connection
  }

  /// Makes `d` answer with `c`'s response from `model` (choice `chosen`), carrying that call's trace.
  void answer_with(Decision& d, const Request& orig, Call& c, size_t chosen, const std::string& model,
                   std::string reason) const {
    d.kind = Decision::Kind::respond;
    d.target = model;
    d.reason = std::move(reason);
    d.outcome = respond_with(orig, c, chosen);
    d.trace = std::move(c.trace);
  }

  /// The body the client receives for an accepted answer: one choice, logprobs only if it asked, and
  /// as SSE when it streams.
  Outcome respond_with(const Request& orig, Call& c, size_t chosen) const {
    Json body = c.body;
    Json choice = body["choices"][chosen];
    choice["index"] = 0;
    const auto* lp = orig.fields().find("logprobs");
    if (!(lp && lp->value == "true")) choice["logprobs"] = nullptr;
    const auto* n = orig.fields().find("n");
    if (!n || n->value == "1") body["choices"] = Json::array({choice});
    else body["choices"][chosen] = choice;
    Outcome out;
    out.usage = c.usage;
    if (!orig.stream()) {
      out.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
      return out;
    }
    // Replay as chat.completion.chunk events: the role, the content (and tool calls), the finish.
    Json base = {{"id", body.value("id", "chatcmpl-cascade")}, {"object", "chat.completion.chunk"},
                 {"created", body.value("created", 0)}, {"model", body.value("model", "")}};
    std::string sse;
    auto emit = [&](Json delta, Json finish) {
      Json chunk = base;
      chunk["choices"] = Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}});
      sse += "data: " + chunk.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
    };
    const Json& msg = choice.value("message", Json::object());
    emit({{"role", "assistant"}, {"content", ""}}, nullptr);
    if (msg.contains("content") && msg["content"].is_string() && !msg["content"].get<std::string>().empty()) {
      emit({{"content", msg["content"]}}, nullptr);
    }
    if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) {
      Json calls = Json::array();
      for (size_t i = 0; i < msg["tool_calls"].size(); ++i) {
        Json tc = msg["tool_calls"][i];
        tc["index"] = i;
        calls.push_back(std::move(tc));
      }
      emit({{"tool_calls", std::move(calls)}}, nullptr);
    }
    emit(Json::object(), choice.value("finish_reason", "stop"));
    if (orig.client_wants_usage() && body.contains("usage")) {
      Json chunk = base;
      chunk["choices"] = Json::array();
      chunk["usage"] = body["usage"];
      sse += "data: " + chunk.dump() + "\n\n";
    }
    sse += "data: [DONE]\n\n";
    out.body = std::move(sse);
    out.sse = true;
    return out;
  }

  net::awaitable<Decision> verify_cascade(StageContext& ctx) const {
    Decision d;
    const Request& orig = ctx.features.request();
    auto started = Clock::now();
    std::string path;
    Spend spent;
    bool wants_logprobs = false, wants_samples = false;
    int samples = 1;
    for (const auto& v : verifiers) {
      wants_logprobs = wants_logprobs || v.type == Verifier::Type::logprob;
      if (v.type == Verifier::Type::agreement) {
        wants_samples = true;
        samples = std::max(samples, v.samples);
      }
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      bool last = i + 1 == steps.size();
      bool over_budget = (max_cost_usd > 0 && spent.usd >= max_cost_usd) ||
                         (max_latency.count() > 0 && Clock::now() - started >= max_latency);
      if (last || (over_budget && i > 0)) {
        // The final step is routed like any request: it streams live, and fails over as usual.
        path += (path.empty() ? "" : " -> ") + step.model + (over_budget && !last ? ":routed(budget)" : ":routed");
        d.kind = Decision::Kind::route;
        d.target = step.model;
        d.reason = "cascade:" + step.model + (i == 0 ? " (only step)" : " after " + std::to_string(i) + " rejected");
        break;
      }
      if (streams_early(orig)) {
        EarlyStep e = co_await stream_step(ctx, step);
        spent.add(e.cost, e.trace);
        for (auto& sc : e.scores) d.scores.push_back(std::move(sc));
        std::string judged = fmt2(e.score) + "@" + std::to_string(e.tokens);
        if (e.verdict == EarlyStep::Verdict::failed) {
          path += (path.empty() ? "" : " -> ") + step.model + ":failed(" + std::string(to_string(e.error.kind)) + ")";
          ++d.escalations;
          continue;
        }
        d.scores.emplace_back(step.model, e.score);
        if (e.verdict == EarlyStep::Verdict::rejected) {
          path += (path.empty() ? "" : " -> ") + step.model + ":rejected-early(" + judged + ")";
          ++d.escalations;
          continue;
        }
        path += (path.empty() ? "" : " -> ") + step.model + ":accepted-early(" + judged + ")";
        d.kind = Decision::Kind::respond;
        d.target = step.model;
        d.reason = "cascade:" + step.model + " accepted on its first " + std::to_string(e.tokens) +
                   " tokens score=" + fmt2(e.score) + ">=" + fmt2(step.threshold);
        d.outcome.emplace();
        d.outcome->stream = std::move(e.stream);
        d.trace = std::move(e.trace);
        break;
      }
      std::vector<json::Edit> edits;
      if (wants_logprobs && !orig.fields().find("logprobs")) {
        edits.push_back({"logprobs", std::string("true")});
        edits.push_back({"top_logprobs", std::string("2")});
      }
      if (wants_samples && !orig.fields().find("n")) {
        edits.push_back({"n", std::to_string(samples)});
        if (!orig.temperature() || *orig.temperature() == 0) edits.push_back({"temperature", std::string("0.7")});
      }
      Call c = co_await call(ctx, step.model, std::move(edits));
      spent.add(c.cost, c.trace);
      if (!c.ok) {
        path += (path.empty() ? "" : " -> ") + step.model + ":failed(" + std::string(to_string(c.error.kind)) + ")";
        ++d.escalations;
        continue;  // the next model answers; the client sees no error
      }
      size_t chosen = 0;
      double score = co_await judge(ctx, step.model, c, chosen, d.scores, spent);
      d.scores.emplace_back(step.model, score);
      if (score >= step.threshold) {
        path += (path.empty() ? "" : " -> ") + step.model + ":accepted(" + fmt2(score) + ")";
        answer_with(d, orig, c, chosen, step.model,
                    "cascade:" + step.model + " accepted score=" + fmt2(score) + ">=" + fmt2(step.threshold));
        break;
      }
      path += (path.empty() ? "" : " -> ") + step.model + ":rejected(" + fmt2(score) + ")";
      ++d.escalations;
    }
    d.extra_header_name = "x-switchyard-cascade";
    d.extra_header_value = path;
    spent.settle(d);
    co_return d;
  }

  net::awaitable<Decision> review(StageContext& ctx) const {
    Decision d;
    const Request& orig = ctx.features.request();
    Spend spent;
    // (Named argument vectors: GCC 12 cannot put braced lists into coroutine frames.)
    std::vector<json::Edit> no_edits;
    Call draft_call = co_await call(ctx, draft, std::move(no_edits));
    spent.add(draft_call.cost, draft_call.trace);
    d.extra_header_name = "x-switchyard-cascade";
    if (!draft_call.ok) {
      // No draft: the rewriter answers the request directly, streaming live.
      d.kind = Decision::Kind::route;
      d.target = rewriter;
      d.reason = "cascade:review draft failed";
      d.extra_header_value = draft + ":failed -> " + rewriter + ":routed";
      spent.settle(d);
      co_return d;
    }
    std::string draft_text = answer_text(draft_call.body["choices"][0]);
    Json review_req = {
        {"model", "reviewer"},
        {"messages", Json::array({{{"role", "system"},
                                   {"content", "You review answers against a rubric. Reply APPROVED if the answer meets "
                                               "every point of the rubric; otherwise list the problems."}},
                                  {{"role", "user"},
                                   {"content", "Rubric:\n" + rubric + "\n\nRequest:\n" + std::string(orig.last_user_text()) +
                                                   "\n\nAnswer:\n" + draft_text}}})},
        {"temperature", 0}};
    Call rc = co_await call_body(ctx, reviewer, review_req.dump());
    spent.add(rc.cost, rc.trace);
    std::string verdict = rc.ok ? answer_text(rc.body["choices"][0]) : std::string();
    bool approved = rc.ok && verdict.find("APPROVED") != std::string::npos;
    if (approved) {
      answer_with(d, orig, draft_call, 0, draft, "cascade:review approved the draft");
      d.extra_header_value = draft + ":drafted -> " + reviewer + ":approved";
      spent.settle(d);
      co_return d;
    }
    // Flagged (or the reviewer is down): the frontier model rewrites with the draft and the review.
    auto messages = Json::parse(std::string(orig.payload()), nullptr, false);  // guarded with the body
    if (!messages.is_array()) messages = Json::array();
    messages.push_back({{"role", "assistant"}, {"content", draft_text}});
    messages.push_back({{"role", "user"},
                        {"content", "A reviewer found problems with that answer:\n" +
                                        (rc.ok ? verdict : std::string("(the reviewer was unavailable)")) +
                                        "\n\nWrite an improved answer to my original request."}});
    std::vector<json::Edit> rewrite;
    rewrite.push_back({"messages", messages.dump(-1, ' ', false, Json::error_handler_t::replace)});
    Call rw = co_await call(ctx, rewriter, std::move(rewrite));
    spent.add(rw.cost, rw.trace);
    d.extra_header_value =
        draft + ":drafted -> " + reviewer + (rc.ok ? ":flagged" : ":failed") + " -> " + rewriter + (rw.ok ? ":rewrote" : ":failed");
    if (!rw.ok) {
      // The rewrite failed: the draft is still an answer.
      answer_with(d, orig, draft_call, 0, draft, "cascade:review rewrite failed, draft returned");
      spent.settle(d);
      co_return d;
    }
    answer_with(d, orig, rw, 0, rewriter, "cascade:review flagged, rewritten");
    spent.settle(d);
    co_return d;
  }
};

}  // namespace

std::unique_ptr<Stage> make_cascade_stage(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  n.check_keys({"type", "name", "mode", "steps", "verifiers", "max_escalations", "max_cost_usd", "max_latency",
                "stream_early", "draft", "reviewer", "rewriter", "rubric"},
               d);
  auto stage = std::make_unique<CascadeStage>();
  size_t errors_before = d.errors().size();
  auto target = [&](const config::Node& at, const std::string& name) {
    std::string t = ctx.resolve_target(name);
    if (t.empty()) at.error(d, "unknown model or tier \"" + name + "\"");
    return t;
  };
  stage->mode = n.str("mode", d).value_or("verify");
  if (stage->mode == "review") {
    for (const char* key : {"draft", "reviewer", "rewriter"}) {
      if (auto v = n.str(key, d, true)) {
        std::string t = target(*n.get(key), *v);
        if (std::string_view(key) == "draft") stage->draft = t;
        else if (std::string_view(key) == "reviewer") stage->reviewer = t;
        else stage->rewriter = t;
      }
    }
    stage->rubric = n.str("rubric", d).value_or("The answer is correct, complete, and directly addresses the request.");
    if (const config::Node* se = n.get("stream_early")) se->error(d, "stream_early applies to verify mode only");
    if (d.errors().size() != errors_before) return nullptr;
    return stage;
  }
  if (stage->mode != "verify") {
    n.get("mode")->error(d, "expected verify or review");
    return nullptr;
  }
  const config::Node* steps = n.get("steps");
  if (!steps || !steps->is_sequence() || steps->items().size() < 2) {
    (steps ? *steps : n).error(d, "a cascade needs at least two steps (cheap -> expensive)");
    return nullptr;
  }
  for (const auto& sn : steps->items()) {
    Step s;
    if (sn.is_scalar()) {
      s.model = target(sn, sn.scalar());
    } else {
      sn.check_keys({"model", "threshold"}, d);
      if (auto m = sn.str("model", d, true)) s.model = target(*sn.get("model"), *m);
      s.threshold = sn.number("threshold", d, 0, 1).value_or(0.5);
    }
    stage->steps.push_back(std::move(s));
  }
  if (auto me = n.integer("max_escalations", d, 0, 100)) {
    // Steps beyond the allowed escalations are never reached: the last allowed one is the final step.
    if (static_cast<size_t>(*me) + 1 < stage->steps.size()) stage->steps.resize(static_cast<size_t>(*me) + 1);
  }
  stage->max_cost_usd = n.number("max_cost_usd", d, 0, 1e6).value_or(0);
  if (auto ml = n.duration_ms("max_latency", d)) stage->max_latency = std::chrono::milliseconds(*ml);

  const config::Node* vs = n.get("verifiers");
  if (!vs || !vs->is_sequence() || vs->items().empty()) {
    (vs ? *vs : n).error(d, "a cascade needs at least one verifier (logprob, heuristics, self_verify, agreement, scorer)");
    return nullptr;
  }
  for (const auto& vn : vs->items()) {
    vn.check_keys({"type", "weight", "metric", "judge", "samples", "extract", "model_file", "final_answer"}, d);
    Verifier v;
    std::string type = vn.str("type", d, true).value_or("");
    v.weight = vn.number("weight", d, 0, 1e6).value_or(1);
    if (type == "logprob") {
      v.type = Verifier::Type::logprob;
      v.metric = vn.str("metric", d).value_or("mean");
      if (v.metric != "mean" && v.metric != "min" && v.metric != "margin") vn.get("metric")->error(d, "expected mean, min or margin");
    } else if (type == "heuristics") {
      v.type = Verifier::Type::heuristics;
      v.final_answer = vn.boolean("final_answer", d).value_or(false);
    } else if (type == "self_verify") {
      v.type = Verifier::Type::self_verify;
      if (auto j = vn.str("judge", d)) v.judge = target(*vn.get("judge"), *j);
    } else if (type == "agreement") {
      v.type = Verifier::Type::agreement;
      v.samples = static_cast<int>(vn.integer("samples", d, 2, 16).value_or(3));
      std::vector<std::string> patterns = vn.str_list("extract", d).value_or(std::vector<std::string>{});
      auto ex = learn::AnswerExtractor::compile(patterns);
      if (!ex) vn.error(d, ex.error().message);
      else v.extractor = std::make_shared<const learn::AnswerExtractor>(std::move(*ex));
    } else if (type == "scorer") {
      v.type = Verifier::Type::scorer;
      if (auto f = vn.str("model_file", d, true)) {
        auto sc = learn::AnswerScorer::load(ctx.resolve_path(*f));
        if (!sc) vn.get("model_file")->error(d, sc.error().message + " (train one with `switchyard train --answer-scorer`)");
        else v.scorer = *sc;
      }
    } else {
      (vn.get("type") ? *vn.get("type") : vn).error(d, "unknown verifier \"" + type + "\" (known: logprob, heuristics, self_verify, agreement, scorer)");
    }
    stage->verifiers.push_back(std::move(v));
  }
  if (const config::Node* se = n.get("stream_early")) {
    // Decided on a prefix by the logprob verifiers alone; the others need the whole answer.
    if (!se->is_map()) {
      se->error(d, "expected a map such as {tokens: 16}");
    } else {
      se->check_keys({"tokens"}, d);
      stage->stream_early_tokens = static_cast<size_t>(se->integer("tokens", d, 1, 4096, true).value_or(0));
    }
    bool has_logprob = std::any_of(stage->verifiers.begin(), stage->verifiers.end(),
                                   [](const Verifier& v) { return v.type == Verifier::Type::logprob; });
    if (!has_logprob) se->error(d, "stream_early judges a prefix by its logprobs: add a {type: logprob} verifier");
  }
  if (d.errors().size() != errors_before) return nullptr;
  return stage;
}

}  // namespace sy::pipeline
