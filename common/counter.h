// A statistics counter with exactly one writer (a worker, or the control thread) and any
// number of readers (telemetry). Relaxed loads and stores: on x86 a plain add, no lock prefix,
// and no data race in the C++ sense.
#pragma once

#include <atomic>
#include <cstdint>

namespace vnf {

class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }
  void reset() noexcept { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace vnf
