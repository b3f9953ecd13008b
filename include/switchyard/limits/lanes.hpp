#pragma once
/// Per-thread lanes: the pieces that let io threads count into shared state without writing a cache
/// line another thread writes.
///
/// - `thread_slot()`: a small index (0..kThreadSlots-1) a thread owns from its first call until it
///   exits, so per-object arrays indexed by it have one writer each. Slots are reused after a thread
///   exits (the registry's release/acquire orders the old owner's writes before the new owner's).
/// - `LaneWindow<N>`: a one-minute window of N counters in one-second buckets, written by one thread
///   (its lane's owner) without a lock or a read-modify-write, read by any thread through a sequence
///   lock (a reader retries while the writer is mid-update; the writer never waits).
///
/// Thread-safety: as above; `LaneWindow::add` must only be called by the owning thread.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>

namespace sy::limits {

/// How many threads at a time own a slot; a thread beyond that gets -1 (its callers fall back to
/// their shared, locked path).
inline constexpr int kThreadSlots = 256;

namespace detail {
/// The calling thread's slot; -2 before its first claim (constinit: read without a TLS wrapper call).
extern constinit thread_local int t_thread_slot;
int claim_thread_slot();
}  // namespace detail

/// The calling thread's slot, claimed on its first call and released when it exits; -1 when all
/// slots are taken.
inline int thread_slot() {
  const int s = detail::t_thread_slot;
  if (s < -1) [[unlikely]] return detail::claim_thread_slot();
  return s;
}

/// Absolute second of a steady-clock time (the bucket a count at `t` lands in).
inline std::int64_t second_of(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

template <std::size_t N>
class LaneWindow {
 public:
  using Counts = std::array<std::int64_t, N>;
  static constexpr int kBuckets = 60;

  /// Adds `d` to the bucket of second `sec` (to the newest bucket when `sec` is older than it, like
  /// MinuteWindow). Owner thread only: plain loads and stores between two bumps of the sequence.
  void add(std::int64_t sec, const Counts& d) {
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    const std::int64_t head = head_.load(std::memory_order_relaxed);
    if (sec > head) [[unlikely]] {
      const std::int64_t from = sec - head >= kBuckets ? sec - kBuckets + 1 : head + 1;
      for (std::int64_t x = from; x <= sec; ++x) {
        for (auto& c : buckets_[index(x)]) c.store(0, std::memory_order_relaxed);
      }
      head_.store(sec, std::memory_order_relaxed);
      head_index_ = index(sec);
    }
    auto& b = buckets_[head_index_];
    for (std::size_t k = 0; k < N; ++k) {
      if (d[k] != 0) b[k].store(b[k].load(std::memory_order_relaxed) + d[k], std::memory_order_relaxed);
    }
    seq_.store(s + 2, std::memory_order_release);
  }

  /// The newest second written (0: never). A relaxed read, for skipping idle lanes.
  std::int64_t head() const { return head_.load(std::memory_order_relaxed); }

  /// A consistent copy of the window.
  struct Snapshot {
    std::int64_t head = 0;
    std::array<Counts, kBuckets> buckets{};

    /// Sum of counter `k` over the `secs` (1..60) seconds ending at max(head, now_sec), counting only
    /// buckets of second >= `floor_sec`.
    std::int64_t sum(std::size_t k, std::int64_t now_sec, int secs, std::int64_t floor_sec = INT64_MIN) const {
      const std::int64_t end = head > now_sec ? head : now_sec;
      secs = secs < 1 ? 1 : secs > kBuckets ? kBuckets : secs;
      std::int64_t total = 0;
      for (int age = 0; age < kBuckets; ++age) {
        const std::int64_t sec = head - age;
        if (sec <= end - secs) break;
        if (sec >= floor_sec) total += buckets[index(sec)][k];
      }
      return total;
    }
    /// When the oldest non-empty bucket of counter `k` leaves the window, if any.
    std::optional<std::int64_t> expiry_second(std::size_t k, std::int64_t now_sec) const {
      const std::int64_t end = head > now_sec ? head : now_sec;
      for (int age = kBuckets - 1; age >= 0; --age) {
        const std::int64_t sec = head - age;
        if (sec <= end - kBuckets) continue;
        if (buckets[index(sec)][k] != 0) return sec + kBuckets;
      }
      return std::nullopt;
    }
  };

  Snapshot snapshot() const {
    Snapshot out;
    for (;;) {
      const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
      if (s1 & 1) {
        std::this_thread::yield();  // the owner is mid-update (a few stores)
        continue;
      }
      out.head = head_.load(std::memory_order_relaxed);
      for (int i = 0; i < kBuckets; ++i) {
        for (std::size_t k = 0; k < N; ++k) out.buckets[i][k] = buckets_[i][k].load(std::memory_order_relaxed);
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == s1) return out;
    }
  }

 private:
  static std::size_t index(std::int64_t sec) {
    const std::int64_t r = sec % kBuckets;
    return static_cast<std::size_t>(r < 0 ? r + kBuckets : r);
  }
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::int64_t> head_{0};
  std::size_t head_index_ = 0;  ///< index(head_); the owner's alone
  std::array<std::array<std::atomic<std::int64_t>, N>, kBuckets> buckets_{};
};

}  // namespace sy::limits
