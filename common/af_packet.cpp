#include "common/af_packet.h"

#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace vnf {

namespace {

constexpr uint32_t kPage = 4096;

int ifreq_ioctl(const std::string& iface, unsigned long req, ifreq& ifr) {
  if (iface.size() >= IFNAMSIZ) {
    errno = ENAMETOOLONG;
    return -1;
  }
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  std::memset(ifr.ifr_name, 0, IFNAMSIZ);
  std::memcpy(ifr.ifr_name, iface.data(), iface.size());
  const int rc = ::ioctl(s, req, &ifr);
  const int e = errno;
  ::close(s);
  errno = e;
  return rc;
}

}  // namespace

AfPacketGeometry af_packet_geometry(uint32_t mtu, uint32_t frames) {
  AfPacketGeometry g{};
  const uint32_t need = max_frame_len(mtu) + 1 + 66;  // one byte more than legal, + header
  g.frame_size = need <= 2048 ? 2048 : (need + kPage - 1) / kPage * kPage;
  g.block_size = std::max(g.frame_size, kPage);
  const uint32_t per_block = g.block_size / g.frame_size;
  frames = std::clamp<uint32_t>(frames, per_block, 4096);
  g.frame_count = frames / per_block * per_block;
  return g;
}

uint32_t interface_mtu(const std::string& iface) {
  ifreq ifr{};
  if (ifreq_ioctl(iface, SIOCGIFMTU, ifr) != 0) return 0;
  return static_cast<uint32_t>(ifr.ifr_mtu);
}

void set_interface_mtu(const std::string& iface, uint32_t mtu) {
  ifreq ifr{};
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (ifreq_ioctl(iface, SIOCSIFMTU, ifr) != 0)
    throw std::runtime_error(
        fmt::format("cannot set the MTU of interface {} to {}: {}", iface, mtu, std::strerror(errno)));
}

int join_promiscuous(int ifindex) {
  // Protocol 0: the socket receives nothing, it only holds the membership.
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  packet_mreq mr{};
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

bool map_af_packet_ring(int ifindex, const AfPacketGeometry& g, AfPacketRing& ring,
                        std::string& why) {
  // The driver keeps its queue sockets to itself: find them among our descriptors, as the
  // TPACKET_V2 packet sockets bound to the interface.
  std::vector<int> found;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) {
    why = fmt::format("cannot list /proc/self/fd: {}", std::strerror(errno));
    return false;
  }
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || end == e->d_name) continue;
    int domain = 0, version = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_PACKET)
      continue;
    len = sizeof version;
    if (::getsockopt(static_cast<int>(fd), SOL_PACKET, PACKET_VERSION, &version, &len) != 0 ||
        version != TPACKET_V2)
      continue;
    sockaddr_ll sll{};
    len = sizeof sll;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&sll), &len) != 0 ||
        sll.sll_ifindex != ifindex)
      continue;
    found.push_back(static_cast<int>(fd));
  }
  ::closedir(dir);
  if (found.size() != 1) {
    why = fmt::format("{} packet sockets of the driver on ifindex {} (expected one)", found.size(),
                      ifindex);
    return false;
  }
  // The driver mapped its receive and transmit rings as one region; the kernel only lets the
  // whole region be mapped, so map it all and read the first half.
  const size_t len = 2 * size_t{g.block_size} * g.block_count();
  void* base = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, found[0], 0);
  if (base == MAP_FAILED) {
    why = fmt::format("cannot map the driver's ring: {}", std::strerror(errno));
    return false;
  }
  ring.base = static_cast<uint8_t*>(base);
  ring.map_len = len;
  ring.frame_size = g.frame_size;
  ring.frame_count = g.frame_count;
  ring.next = 0;
  return true;
}

void unmap_af_packet_ring(AfPacketRing& ring) {
  if (ring.base) ::munmap(ring.base, ring.map_len);
  ring = AfPacketRing{};
}

}  // namespace vnf
