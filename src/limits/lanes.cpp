#include "switchyard/limits/lanes.hpp"

namespace sy::limits {

namespace {

std::array<std::atomic<bool>, kThreadSlots> g_taken{};

/// Gives the thread's slot back when it exits (a thread_local with a destructor, touched once per
/// thread: the hot path reads the plain `detail::t_thread_slot`).
struct SlotOwner {
  int slot = -1;
  ~SlotOwner() {
    detail::t_thread_slot = -1;  // anything the exiting thread still does goes the shared way
    if (slot >= 0) g_taken[static_cast<std::size_t>(slot)].store(false, std::memory_order_release);
  }
};

}  // namespace

namespace detail {

constinit thread_local int t_thread_slot = -2;

int claim_thread_slot() {
  thread_local SlotOwner owner;
  t_thread_slot = -1;  // all taken, unless the loop finds one
  for (int i = 0; i < kThreadSlots; ++i) {
    auto& taken = g_taken[static_cast<std::size_t>(i)];
    bool expected = false;
    if (!taken.load(std::memory_order_relaxed) &&
        taken.compare_exchange_strong(expected, true, std::memory_order_acquire, std::memory_order_relaxed)) {
      owner.slot = i;
      t_thread_slot = i;
      return i;
    }
  }
  return -1;
}

}  // namespace detail

}  // namespace sy::limits
