// A hash table key compare (the function given to rte_hash_set_cmp_func) must see every byte
// of the key: equal keys compare equal, and a key with any one bit of any byte flipped does not.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>

template <class Key, class Cmp>
void expect_compare_sees_every_byte(Cmp cmp, unsigned seed, int rounds = 200) {
  std::mt19937 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    Key a;
    auto* p = reinterpret_cast<uint8_t*>(&a);
    for (size_t i = 0; i < sizeof a; ++i) p[i] = static_cast<uint8_t>(rng());
    Key b = a;
    ASSERT_EQ(cmp(&a, &b, sizeof a), 0);
    for (size_t i = 0; i < sizeof a; ++i) {
      b = a;
      reinterpret_cast<uint8_t*>(&b)[i] ^= static_cast<uint8_t>(1u << (rng() % 8));
      ASSERT_NE(cmp(&a, &b, sizeof a), 0) << "byte " << i;
    }
  }
}
