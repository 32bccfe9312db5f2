// What DPDK's af_packet driver (net_af_packet) does not do for us, and how we make up for it.
//
// 1. Frame size. The driver copies each frame into one slot of a PACKET_MMAP ring of fixed
//    frame size (2048 bytes by default) and cuts longer frames silently. We size the slots
//    from the port's MTU so that every frame the interface can deliver fits, with room to
//    spare: a frame that was cut is then always longer than the longest legal frame and is
//    dropped as `frame_too_long` instead of being forwarded cut.
// 2. The outer VLAN tag. The kernel takes the outer 802.1Q or 802.1ad tag off every frame it
//    receives and reports it (TCI and TPID) in the ring slot's header; the driver puts the tag
//    back with TPID 0x8100 whatever it was. The worker reads the TPID the kernel reported from
//    the same ring (mapped a second time, read only) just before the driver consumes the slot,
//    and writes it back into the frame (peek_tpids / restore_tpids below).
// 3. Promiscuous mode. The driver sets IFF_PROMISC on the interface, which outlives a killed
//    appliance. We join PACKET_MR_PROMISC on a socket of our own instead: the kernel drops it
//    with the socket, however the process ends.
// 4. The interface MTU, which the driver refuses to raise above 1500 (its max_rx_pktlen).
#pragma once

#include <linux/if_packet.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

namespace vnf {

// The ring geometry handed to the driver (devargs framesz, blocksz, framecnt).
struct AfPacketGeometry {
  uint32_t frame_size;  // a multiple of 16; 2048, or a multiple of the page size
  uint32_t block_size;  // a multiple of the page size and of frame_size
  uint32_t frame_count;
  uint32_t block_count() const { return frame_count / (block_size / frame_size); }
  // Longest frame a slot holds (TPACKET_V2 puts an Ethernet frame at offset 66).
  uint32_t capacity() const { return frame_size - 66; }
  // The data room the driver wants in every mbuf (it checks frame_size - 32 at queue set-up).
  uint32_t mbuf_data() const { return frame_size - 32; }
};

// Slots big enough for the longest legal frame of `mtu` (Ethernet header and two VLAN tags)
// plus one byte, so that a cut frame is always recognisably too long. `frames`: ring slots
// wanted (rounded to whole blocks, at most 4096).
AfPacketGeometry af_packet_geometry(uint32_t mtu, uint32_t frames);

// The longest frame a port of `mtu` sends or receives: Ethernet header and two VLAN tags.
inline constexpr uint32_t max_frame_len(uint32_t mtu) { return mtu + 14 + 8; }

// Kernel interface MTU (SIOCGIFMTU / SIOCSIFMTU). get returns 0 when it cannot be read;
// set throws std::runtime_error.
uint32_t interface_mtu(const std::string& iface);
void set_interface_mtu(const std::string& iface, uint32_t mtu);

// A socket holding PACKET_MR_PROMISC on the interface; -1 and errno on failure.
int join_promiscuous(int ifindex);

// The driver's receive ring of one queue, as the worker reads it. Set up by the control
// thread once the device exists; the worker owns `next` afterwards.
struct AfPacketRing {
  uint8_t* base = nullptr;
  size_t map_len = 0;
  uint32_t frame_size = 0;
  uint32_t frame_count = 0;
  uint32_t next = 0;  // the slot the driver reads next (it starts at 0 and goes in order)
};

// Finds the driver's (one) packet socket bound to `ifindex` in this process and maps its
// ring; returns false (ring untouched) when it cannot, with the reason in `why`.
bool map_af_packet_ring(int ifindex, const AfPacketGeometry& g, AfPacketRing& ring,
                        std::string& why);
void unmap_af_packet_ring(AfPacketRing& ring);

// Worker, before rte_eth_rx_burst: how many slots (at most `max`) the kernel has filled, and
// for each the outer TPID it took off (0: none, or 0x8100 which the driver restores itself).
// Asking the driver for exactly that many keeps `tpid[i]` paired with the i-th mbuf.
inline uint16_t peek_tpids(const AfPacketRing& r, uint16_t max, uint16_t* tpid) noexcept {
  uint16_t n = 0;
  uint32_t slot = r.next;
  for (; n < max; ++n) {
    const auto* h = reinterpret_cast<const tpacket2_hdr*>(r.base + size_t{slot} * r.frame_size);
    const uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if (!(st & TP_STATUS_USER)) break;
    const bool foreign = (st & TP_STATUS_VLAN_VALID) && (st & TP_STATUS_VLAN_TPID_VALID) &&
                         h->tp_vlan_tpid != 0x8100;
    tpid[n] = foreign ? h->tp_vlan_tpid : 0;
    if (++slot == r.frame_count) slot = 0;
  }
  return n;
}

// Worker, after rte_eth_rx_burst returned `n` of the peeked slots: the driver consumed them;
// frames whose outer tag it restored as 0x8100 get the TPID the kernel reported.
inline void restore_tpids(AfPacketRing& r, rte_mbuf** pkts, uint16_t n,
                          const uint16_t* tpid) noexcept {
  r.next = static_cast<uint32_t>((r.next + n) % r.frame_count);
  for (uint16_t i = 0; i < n; ++i) {
    if (!tpid[i] || pkts[i]->data_len < 16) continue;
    const rte_be16_t be = rte_cpu_to_be_16(tpid[i]);
    std::memcpy(rte_pktmbuf_mtod_offset(pkts[i], uint8_t*, 12), &be, 2);
  }
}

}  // namespace vnf
