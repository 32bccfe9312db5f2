// The MAC table's hash and key compare (vswitch/mac_table.h), which rte_hash calls for every
// key: the hash must be the CRC rte_hash_crc gives for the key, and the compare must see every
// byte of it (VLAN and MAC).
#include <gtest/gtest.h>

#include <random>

#include <rte_hash_crc.h>

#include "tests/unit/key_compare_expect.h"
#include "vswitch/mac_table.h"

using vswitch::mac_hash;
using vswitch::mac_key_cmp;
using vswitch::MacKey;

TEST(VswitchMacHash, IsDpdksCrcOfTheKey) {
  std::mt19937_64 rng(21);
  for (int round = 0; round < 20000; ++round) {
    MacKey k{};
    k.vlan = static_cast<uint16_t>(rng() & 0xFFF);
    for (auto& b : k.mac) b = static_cast<uint8_t>(rng());
    const uint32_t init = round % 3 ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(mac_hash(&k, sizeof k, init), rte_hash_crc(&k, sizeof k, init)) << round;
    // What workers hand the table's bulk lookup as the key's hash (the table's init is 0).
    ASSERT_EQ(vswitch::mac_sig(vswitch::key_bits(k)), rte_hash_crc(&k, sizeof k, 0)) << round;
  }
}

TEST(VswitchMacHash, KeyCompareSeesEveryByte) {
  expect_compare_sees_every_byte<MacKey>(mac_key_cmp, 22);
}
