#include "common/pcapng.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vnf {

namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kInterfaceStatistics = 5;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kLinkTypeEthernet = 1;

constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsResol = 9;
constexpr uint16_t kEpbFlags = 2;
constexpr uint16_t kIsbIfRecv = 4;
constexpr uint16_t kIsbIfDrop = 5;

void put(std::vector<uint8_t>& b, const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}
template <class T>
void put(std::vector<uint8_t>& b, T v) {
  put(b, &v, sizeof v);
}
void pad4(std::vector<uint8_t>& b) {
  while (b.size() % 4) b.push_back(0);
}

// Options carry at most 65535 bytes; comments and names are cut there.
uint16_t clamp16(size_t n) { return static_cast<uint16_t>(n > 0xFFFC ? 0xFFFC : n); }

}  // namespace

void PcapngWriter::option(uint16_t code, const void* data, uint16_t len) {
  put(body_, code);
  put(body_, len);
  put(body_, data, len);
  pad4(body_);
}

bool PcapngWriter::finish(uint32_t type) {
  const uint16_t end[2] = {kOptEnd, 0};
  put(body_, end, sizeof end);
  const uint32_t total = static_cast<uint32_t>(body_.size() + 12);
  block_.clear();
  put(block_, type);
  put(block_, total);
  put(block_, body_.data(), body_.size());
  put(block_, total);
  body_.clear();
  size_t off = 0;
  unsigned waited_after_abort = 0;
  while (off < block_.size()) {
    const ssize_t n = ::write(fd_, block_.data() + off, block_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
      if (abort_ && abort_->load() && ++waited_after_abort > 10) {
        error_ = "the pipe's reader stopped reading";
        return false;
      }
      continue;
    }
    if (n <= 0) {
      error_ = n < 0 ? std::strerror(errno) : "short write";
      return false;
    }
    off += static_cast<size_t>(n);
    bytes_ += static_cast<uint64_t>(n);
  }
  return true;
}

bool PcapngWriter::section(std::string_view app, std::string_view comment) {
  interfaces_ = 0;
  body_.clear();
  put(body_, kByteOrderMagic);
  put(body_, uint16_t{1});  // major version
  put(body_, uint16_t{0});  // minor version
  put(body_, int64_t{-1});  // section length: not given
  if (!comment.empty()) option(kOptComment, comment.data(), clamp16(comment.size()));
  if (!app.empty()) option(kShbUserAppl, app.data(), clamp16(app.size()));
  return finish(kSectionHeader);
}

uint32_t PcapngWriter::interface(std::string_view name, std::string_view description,
                                 uint32_t snaplen) {
  body_.clear();
  put(body_, kLinkTypeEthernet);
  put(body_, uint16_t{0});  // reserved
  put(body_, snaplen);
  if (!name.empty()) option(kIfName, name.data(), clamp16(name.size()));
  if (!description.empty()) option(kIfDescription, description.data(), clamp16(description.size()));
  const uint8_t nanoseconds = 9;
  option(kIfTsResol, &nanoseconds, 1);
  finish(kInterfaceDescription);
  return interfaces_++;
}

bool PcapngWriter::packet(uint32_t iface, uint64_t ts_ns, const void* data, uint32_t caplen,
                          uint32_t orig_len, Direction dir, std::string_view comment) {
  body_.clear();
  put(body_, iface);
  put(body_, static_cast<uint32_t>(ts_ns >> 32));
  put(body_, static_cast<uint32_t>(ts_ns));
  put(body_, caplen);
  put(body_, orig_len);
  put(body_, data, caplen);
  pad4(body_);
  if (dir != Direction::kUnknown) {
    const uint32_t flags = static_cast<uint32_t>(dir);
    option(kEpbFlags, &flags, sizeof flags);
  }
  if (!comment.empty()) option(kOptComment, comment.data(), clamp16(comment.size()));
  return finish(kEnhancedPacket);
}

bool PcapngWriter::statistics(uint32_t iface, uint64_t ts_ns, uint64_t received, uint64_t dropped) {
  body_.clear();
  put(body_, iface);
  put(body_, static_cast<uint32_t>(ts_ns >> 32));
  put(body_, static_cast<uint32_t>(ts_ns));
  option(kIsbIfRecv, &received, sizeof received);
  option(kIsbIfDrop, &dropped, sizeof dropped);
  return finish(kInterfaceStatistics);
}

}  // namespace vnf
