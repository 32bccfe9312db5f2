#include "common/link_monitor.h"

#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace vnf {

LinkMonitor::LinkMonitor() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

LinkMonitor::~LinkMonitor() {
  if (fd_ >= 0) ::close(fd_);
}

unsigned LinkMonitor::drain(const std::function<void(const KernelLink&)>& f) {
  if (fd_ < 0) return 0;
  unsigned n = 0;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) break;  // EAGAIN: nothing more; ENOBUFS (overrun): the next poll catches up
    uint32_t len = static_cast<uint32_t>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
      const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
      KernelLink l;
      l.ifindex = ifi->ifi_index;
      l.up = h->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
             (ifi->ifi_flags & IFF_RUNNING);
      l.gone = h->nlmsg_type == RTM_DELLINK;
      int alen = static_cast<int>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
        if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= sizeof(uint32_t))
          std::memcpy(&l.mtu, RTA_DATA(a), sizeof l.mtu);
      f(l);
      ++n;
    }
  }
  return n;
}

std::optional<bool> interface_link_up(const std::string& iface) {
  if (iface.empty() || iface.size() >= IFNAMSIZ) return std::nullopt;
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::nullopt;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, iface.data(), iface.size());
  const bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ::close(s);
  if (!ok) return std::nullopt;
  return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

}  // namespace vnf
