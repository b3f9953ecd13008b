#pragma once
/// What the admin API and the dashboard show of recent traffic, kept in memory: the last decisions
/// with their reasons, and per-minute totals of the last hour. Recording copies a few strings or adds
/// a few numbers under a mutex; JSON is built only when someone asks. Thread-safe.
#include <array>
#include <cstdint>
#include <algorithm>
#include <vector>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>

namespace sy::telemetry {

/// One finished request, as the decision log and the admin API describe it.
struct DecisionRecord {
  std::int64_t ts_ms = 0;
  std::int64_t arrived_ns = 0;  ///< when the request arrived (steady clock): the admin API's order
  std::string request_id, key, model_requested, router, stage, reason, model, deployment, error;
  int status = 0;
  bool stream = false;
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  double cost_usd = 0, latency_ms = 0;
  int attempts = 0;
  // Feedback on the answer (POST /v1/feedback), when given.
  bool has_feedback = false;
  std::optional<double> feedback_score;
  std::string feedback_label, feedback_comment;
  /// Opened (RecentDecisions::open) and not yet filled: the answer is still being written. Not listed.
  bool open = false;
  std::uint64_t seq = 0;  ///< which use of the slot this is (tickets compare it)
};

/// The last requests, in one ring per io thread (`shards`, each of capacity / shards slots, at least 64),
/// so that recording takes a lock no other io thread takes; reading merges them by arrival.
class RecentDecisions {
 public:
  explicit RecentDecisions(std::size_t capacity = 500, std::size_t shards = 1);
  void push(DecisionRecord r) {
    record(0, [&r](DecisionRecord& slot) { slot = std::move(r); });
  }
  /// A slot taken before a request's answer is written (seq 0: none).
  struct Ticket {
    std::size_t shard = 0, slot = 0;
    std::uint64_t seq = 0;
  };
  /// Takes the oldest slot of ring `shard` for a request whose answer is about to be written, with only
  /// its id and key, so that feedback sent the moment the client has the answer finds it (the request is
  /// recorded when it ends, a moment after its last byte left). Hidden from to_json until filled.
  Ticket open(std::size_t shard, std::string_view request_id, std::string_view key);
  /// Fills the ticket's slot (feedback it got meanwhile kept), or, when there is no ticket or the ring went
  /// round since, the oldest slot of ring `ticket.shard` like record(shard, fill).
  template <class F>
  void record(const Ticket& t, F&& fill) {
    Shard& s = *shards_[t.shard % shards_.size()];
    std::lock_guard lock(s.mu);
    DecisionRecord* r = t.seq != 0 && s.ring[t.slot].seq == t.seq ? &s.ring[t.slot] : take(s);
    r->open = false;
    fill(*r);
  }
  /// Fills the oldest slot of ring `shard` (the io thread's index; any value is taken modulo the number
  /// of rings) in place, under that ring's lock: assigning into its strings reuses their buffers, so a
  /// record costs no allocation once the ring has gone round.
  template <class F>
  void record(std::size_t shard, F&& fill) {
    record(Ticket{shard, 0, 0}, std::forward<F>(fill));
  }
  /// Attaches feedback to the request `request_id` made with the gateway key `key` (empty: none). False
  /// when no such request is among the kept ones (or it was made with another key).
  bool add_feedback(std::string_view request_id, std::string_view key, std::optional<double> score,
                    std::string_view label, std::string_view comment);
  /// `{"object":"list","data":[...]}`, the most recently arrived request first (a request is recorded when
  /// it ends, so a long one ends after later short ones), at most `limit` (scrubbed by the caller).
  std::string to_json(std::size_t limit) const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::vector<DecisionRecord> ring;
    std::size_t next = 0, size = 0;
    std::uint64_t seq = 0;
  };
  /// The oldest slot of `s` (lock held), its previous request's feedback cleared, with a new seq.
  static DecisionRecord* take(Shard& s);
  std::vector<std::unique_ptr<Shard>> shards_;
};

/// Requests, errors, fallbacks and cost per UTC minute over the last hour, kept per io thread (`shards`)
/// so that recording takes a lock no other io thread takes; reading sums them.
class UsageTimeline {
 public:
  explicit UsageTimeline(std::size_t shards = 1);
  void record(std::size_t shard, std::int64_t now_ms, bool error, bool fallback, double cost_usd);
  /// `{"minutes":[{"t","requests","errors","fallbacks","cost_usd"}, ...]}`: the 60 minutes up to the
  /// one of `now_ms`, oldest first (minutes without traffic are zeros).
  std::string to_json(std::int64_t now_ms) const;

 private:
  struct Minute {
    std::int64_t minute = -1;
    std::int64_t requests = 0, errors = 0, fallbacks = 0;
    double cost_usd = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::array<Minute, 60> minutes{};
  };
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace sy::telemetry
