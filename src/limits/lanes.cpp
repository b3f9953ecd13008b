#include "switchyard/limits/lanes.hpp"

namespace sy::limits {

namespace {

std::array<std::atomic<bool>, kThreadSlots> g_taken{};

constexpr int kUnclaimed = -2;
thread_local int t_slot = kUnclaimed;

/// Gives the thread's slot back when it exits (a thread_local with a destructor, touched once per
/// thread: the hot path reads the plain `t_slot`).
struct SlotOwner {
  int slot = -1;
  ~SlotOwner() {
    t_slot = -1;  // anything the exiting thread still does goes the shared way
    if (slot >= 0) g_taken[static_cast<std::size_t>(slot)].store(false, std::memory_order_release);
  }
};

int claim() {
  thread_local SlotOwner owner;
  for (int i = 0; i < kThreadSlots; ++i) {
    auto& taken = g_taken[static_cast<std::size_t>(i)];
    bool expected = false;
    if (!taken.load(std::memory_order_relaxed) &&
        taken.compare_exchange_strong(expected, true, std::memory_order_acquire, std::memory_order_relaxed)) {
      owner.slot = i;
      return i;
    }
  }
  return -1;
}

}  // namespace

int thread_slot() {
  int s = t_slot;
  if (s == kUnclaimed) [[unlikely]] s = t_slot = claim();
  return s;
}

}  // namespace sy::limits
