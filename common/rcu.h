// Publishing immutable config snapshots to the workers (STYLE.md §6): the control thread
// builds a new snapshot off the fast path, swaps one pointer (release), waits until every
// worker has reported a quiescent state (rte_rcu_qsbr_synchronize), then frees the old one.
// Workers load the pointer once per loop (acquire) and never see a half-built table.
#pragma once

#include <atomic>
#include <memory>

#include <rte_rcu_qsbr.h>

namespace vnf {

template <class T>
class Published {
 public:
  explicit Published(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  ~Published() { delete cur_.load(std::memory_order_acquire); }
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  // Workers: once per loop.
  const T* get() const noexcept { return cur_.load(std::memory_order_acquire); }

  // Control thread. Returns once no worker can hold the previous snapshot any more.
  void publish(std::unique_ptr<T> next) {
    const T* old = cur_.exchange(next.release(), std::memory_order_acq_rel);
    if (old) {
      rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
      delete old;
    }
  }

 private:
  rte_rcu_qsbr* qsbr_;
  std::atomic<const T*> cur_{nullptr};
};

}  // namespace vnf
