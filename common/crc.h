// CRC-32C steps for hashing in the fast path: the instruction itself where the build targets
// SSE 4.2 (DPDK's x86 baseline, -march=corei7), rte_hash_crc's otherwise.
// rte_hash_crc_4byte / _8byte choose the implementation at run time, a load and two branches
// per step, which also kept callers out of line. Both give the same CRC, so a table's
// hashes do not depend on which one computed them (tests/unit/vfirewall_conntrack_test.cpp
// compares them).
#pragma once

#include <cstdint>

#include <rte_hash_crc.h>
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

namespace vnf {

[[gnu::always_inline]] inline uint32_t crc_step4(uint32_t data, uint32_t init) noexcept {
#ifdef __SSE4_2__
  return _mm_crc32_u32(init, data);
#else
  return rte_hash_crc_4byte(data, init);
#endif
}

[[gnu::always_inline]] inline uint32_t crc_step8(uint64_t data, uint32_t init) noexcept {
#ifdef __SSE4_2__
  return static_cast<uint32_t>(_mm_crc32_u64(init, data));
#else
  return rte_hash_crc_8byte(data, init);
#endif
}

}  // namespace vnf
