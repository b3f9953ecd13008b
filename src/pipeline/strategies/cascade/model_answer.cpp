#include "pipeline/strategies/cascade/model_answer.hpp"

#include <algorithm>

#include "switchyard/providers/openai_sse.hpp"
#include "switchyard/core/numbers.hpp"

namespace sy::pipeline::cascade {

namespace net = boost::asio;
using Json = nlohmann::json;

std::string fmt2(double v) { return fixed(v, 2); }

Decision without_model_caller() {
  Decision d;
  d.kind = Decision::Kind::reject;
  d.error = Error::make(ErrorKind::internal, "the cascade was given no model caller");
  d.reason = "cascade:no model caller";
  return d;
}

std::string answer_text(const Json& choice) {
  const auto& msg = choice.value("message", Json::object());
  auto it = msg.find("content");
  return it != msg.end() && it->is_string() ? it->get<std::string>() : std::string();
}

net::awaitable<ModelAnswer> ask(const ModelCaller& models, const Request& orig, const std::string& model,
                                std::vector<json::Edit> edits) {
  edits.push_back({"stream", std::string("false")});
  edits.push_back({"stream_options", std::nullopt});
  co_return co_await ask_body(models, orig, model, json::splice(orig.body(), orig.fields(), edits));
}

net::awaitable<ModelAnswer> ask_body(const ModelCaller& models, const Request& orig, const std::string& model,
                                     std::string body) {
  ModelAnswer a;
  auto req = Request::parse(Endpoint::chat, std::move(body), orig.json_limits());
  if (!req) {
    a.error = std::move(req).error();
    co_return a;
  }
  auto out = co_await models.call(**req, model, a.trace);
  if (!out) {
    a.error = std::move(out).error();
    co_return a;
  }
  a.usage = out->usage;
  if (const auto* dep = a.trace.deployment_config) a.cost = cost_usd(a.usage, dep->prices());
  // The answer passed the JSON guard in the step's decoder.
  a.body = Json::parse(out->body, nullptr, false);
  if (a.body.is_discarded() || !a.body.contains("choices") || !a.body["choices"].is_array() ||
      a.body["choices"].empty()) {
    a.error = Error::make(ErrorKind::connection, "the cascade step's answer has no choices");
    co_return a;
  }
  a.ok = true;
  co_return a;
}

void CascadeTrail::step(const std::string& model, std::string_view outcome) {
  if (!path_.empty()) path_ += " -> ";
  path_ += model;
  path_ += ':';
  path_ += outcome;
}

void CascadeTrail::report(Decision& d) const {
  d.report.header_name = std::string(kPathHeader);
  d.report.header_value = path_;
  d.report.escalations = escalations_;
  d.report.spent_usd = spent_.usd;
  d.report.upstream_time = std::max(spent_.upstream - d.trace.upstream_time, std::chrono::microseconds{0});
}

namespace {

/// The body the client receives for an accepted answer: one choice, logprobs only if it asked, and as
/// SSE when it streams.
Outcome respond_with(const Request& orig, const ModelAnswer& answer, std::size_t chosen) {
  Json body = answer.body;
  Json choice = body["choices"][chosen];
  choice["index"] = 0;
  const auto* lp = orig.fields().find("logprobs");
  if (!(lp && lp->value == "true")) choice["logprobs"] = nullptr;
  const auto* n = orig.fields().find("n");
  if (!n || n->value == "1") body["choices"] = Json::array({choice});
  else body["choices"][chosen] = choice;
  Outcome out;
  out.usage = answer.usage;
  if (!orig.stream()) {
    out.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    return out;
  }
  out.body = providers::replay_as_sse(body, choice, orig.client_wants_usage());
  out.sse = true;
  return out;
}

}  // namespace

void answer_with(Decision& d, const Request& orig, ModelAnswer& answer, std::size_t chosen, const std::string& model,
                 std::string reason) {
  d.kind = Decision::Kind::respond;
  d.target = model;
  d.reason = std::move(reason);
  d.outcome = respond_with(orig, answer, chosen);
  d.trace = std::move(answer.trace);
}

}  // namespace sy::pipeline::cascade
