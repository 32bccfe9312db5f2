// What every dataplane harness gives its appliance: the worker loop on this thread or on its
// lcore (below), and the ports: one net_ring ethdev per configured
// device (all must be `type: ring`), a ring into it and a ring out of it, so that a test can
// put frames on a port's wire and read what the appliance transmitted there.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_launch.h>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/engine_config.h"
#include "common/worker.h"
#include "tests/common/frames.h"

namespace dptest {

using testing_frames::Bytes;

class RingPorts {
 public:
  // Creates the rings and the ports; the EAL must be up (init_eal_once()).
  explicit RingPorts(const std::vector<vnf::PortDevice>& devices);
  // Removes the ports and frees the rings and what was left in them: destroy after the engine
  // that used the ports has stopped them.
  ~RingPorts();
  RingPorts(const RingPorts&) = delete;
  RingPorts& operator=(const RingPorts&) = delete;

  // A copy of `frame` in an mbuf of `pool`, received by the appliance on `port`.
  // ol_flags, packet_type: what a device's receive offloads would have said of the frame.
  void send(rte_mempool* pool, const std::string& port, const Bytes& frame, uint64_t ol_flags = 0,
            uint32_t packet_type = 0);
  std::vector<Bytes> recv(const std::string& port);  // everything the port transmitted
  std::map<std::string, std::vector<Bytes>> recv_all();
  std::vector<std::string> names() const;

 private:
  struct Pair {
    rte_ring* in;   // to the appliance
    rte_ring* out;  // from the appliance
  };
  std::map<std::string, Pair> rings_;
};

// The worker loop, `rounds` times, on the calling thread (which plays worker `w`).
template <class Pipeline>
unsigned poll_on_this_thread(vnf::WorkerContext& w, Pipeline& p, unsigned rounds) {
  unsigned total = 0;
  rte_rcu_qsbr_thread_register(w.qsbr, w.id);
  for (unsigned i = 0; i < rounds; ++i) {
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    total += vnf::poll_once(w, p);
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  }
  return total;
}

// The real worker loop on worker `w`'s lcore, for tests that need traffic while the control
// side acts; stop() (or destruction) ends it.
class WorkerThread {
 public:
  ~WorkerThread() { stop(); }
  template <class Pipeline>
  void start(vnf::WorkerContext& w, Pipeline& p) {
    struct Arg {
      vnf::WorkerContext* w;
      Pipeline* p;
      std::atomic<bool>* running;
    };
    auto arg = std::make_shared<Arg>(Arg{&w, &p, &running_});
    running_ = true;
    if (rte_eal_remote_launch(
            [](void* a) -> int {
              auto* x = static_cast<Arg*>(a);
              return vnf::worker_main(*x->w, *x->p, *x->running);
            },
            arg.get(), w.lcore) != 0)
      throw std::runtime_error("cannot launch the worker");
    arg_ = std::move(arg);
    lcore_ = w.lcore;
  }
  void stop() {
    if (!arg_) return;
    running_ = false;
    rte_eal_wait_lcore(lcore_);
    arg_.reset();
  }

 private:
  std::atomic<bool> running_{false};
  std::shared_ptr<void> arg_;  // what the lcore reads, alive while it runs
  unsigned lcore_ = 0;
};

}  // namespace dptest
