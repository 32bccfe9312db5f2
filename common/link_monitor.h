// Link state of kernel interfaces from rtnetlink (RTM_NEWLINK), as it changes: DPDK's
// af_packet driver never reports a link change and the tap driver reports it only when asked,
// so a veth whose peer went down, or a cable pulled, was seen late or never. The control
// thread polls the socket with its other file descriptors; nothing here blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vnf {

struct KernelLink {
  int ifindex = 0;
  bool up = false;    // administratively up and operationally up (IFF_UP and IFF_RUNNING)
  bool gone = false;  // the interface left this network namespace (deleted or moved)
  uint32_t mtu = 0;
};

class LinkMonitor {
 public:
  LinkMonitor();  // subscribes to RTMGRP_LINK; fd() < 0 when that failed
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  int fd() const { return fd_; }
  // Reads every pending message; calls f for each link report. Returns how many.
  unsigned drain(const std::function<void(const KernelLink&)>& f);

 private:
  int fd_ = -1;
};

// The state of one interface now (SIOCGIFFLAGS: IFF_UP and IFF_RUNNING); nullopt when no
// interface of that name is in this network namespace.
std::optional<bool> interface_link_up(const std::string& iface);

}  // namespace vnf
