// A pcapng writer (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): the
// section header, interface description blocks and enhanced packet blocks with a direction
// flag and a comment, which tshark and Wireshark read.
//
// Why not DPDK's rte_pcapng: in DPDK 22.11 it writes one interface block per ethdev port,
// fixed when the file is opened, and no per-packet comment (rte_pcapng_add_interface and the
// comment argument of rte_pcapng_copy came with 23.11). A trace has an interface per capture
// point of each port ("a rx", "a tx", "a drop") and says why a packet was dropped in the
// packet's comment, so the blocks are written here; the layout is the same.
//
// Control side only (the capture writer thread): it allocates and makes system calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vnf {

class PcapngWriter {
 public:
  enum class Direction : uint32_t { kUnknown = 0, kIn = 1, kOut = 2 };

  // Writes to `fd` (not owned). Nothing is written until section().
  explicit PcapngWriter(int fd) : fd_(fd) {}

  // The section header block: starts a file. Interface ids restart at 0.
  bool section(std::string_view app, std::string_view comment);
  // An interface description block (link type Ethernet, timestamps in nanoseconds); returns
  // its id in this section.
  uint32_t interface(std::string_view name, std::string_view description, uint32_t snaplen);
  // An enhanced packet block: `caplen` bytes of a frame that was `orig_len` long, at
  // `ts_ns` nanoseconds since the epoch. An empty comment is left out.
  bool packet(uint32_t iface, uint64_t ts_ns, const void* data, uint32_t caplen, uint32_t orig_len,
              Direction dir, std::string_view comment);
  // An interface statistics block: packets received and dropped on `iface`.
  bool statistics(uint32_t iface, uint64_t ts_ns, uint64_t received, uint64_t dropped);

  // A non-blocking fd (a named pipe) that cannot take more waits for its reader, up to a
  // second once *abort is true: then the write fails.
  void set_abort(const std::atomic<bool>* abort) { abort_ = abort; }

  uint64_t bytes() const { return bytes_; }            // written since construction
  const std::string& error() const { return error_; }  // the last failed write's reason

 private:
  void option(uint16_t code, const void* data, uint16_t len);
  bool finish(uint32_t type);  // wraps buf_ in the block's type and lengths and writes it

  int fd_;
  const std::atomic<bool>* abort_ = nullptr;
  uint32_t interfaces_ = 0;
  uint64_t bytes_ = 0;
  std::string error_;
  std::vector<uint8_t> body_;
  std::vector<uint8_t> block_;
};

}  // namespace vnf
