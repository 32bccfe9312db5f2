#include "vfirewall/program/firewall.h"

#include <chrono>
#include <thread>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/reload.h"
#include "vfirewall/snapshot_build.h"

namespace vfirewall {

namespace {

const char* proto_name(uint8_t p) {
  switch (p) {
    case kProtoTcp:
      return "tcp";
    case kProtoUdp:
      return "udp";
    case kProtoIcmp:
      return "icmp";
    case kProtoIcmp6:
      return "icmp6";
    default:
      return nullptr;
  }
}

std::string addr_str(uint8_t family, const uint8_t* a) {
  return format_addr(family, family == 4
                                 ? u128(a[0]) << 24 | u128(a[1]) << 16 | u128(a[2]) << 8 | a[3]
                                 : ip6_u128(a));
}

std::string endpoint(uint8_t family, const uint8_t* a, uint16_t port, bool ports) {
  const std::string s = addr_str(family, a);
  if (!ports) return s;
  return family == 6 ? fmt::format("[{}]:{}", s, port) : fmt::format("{}:{}", s, port);
}

uint32_t pow2_at_least(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

std::string format_key(const CtKey& k) {
  const char* pn = proto_name(k.proto);
  const bool ports = k.proto == kProtoTcp || k.proto == kProtoUdp;
  std::string s = fmt::format("{} {} -> {}", pn ? pn : std::to_string(k.proto).c_str(),
                              endpoint(k.family, k.src, k.sport, ports),
                              endpoint(k.family, k.dst, k.dport, ports));
  if (!ports && (k.proto == kProtoIcmp || k.proto == kProtoIcmp6))
    s += fmt::format(" id {} type {}", k.sport, k.dport);
  return s;
}

Firewall::Firewall(vnf::Engine& engine, FirewallConfig cfg)
    : engine_(engine), cfg_(std::move(cfg)), published_(engine.qsbr()) {
  zone_ids_.limit = kMaxZoneIds - 1;
  rule_slots_.limit = kMaxRuleSlots - 1;
  tsc_hz_ = rte_get_tsc_hz();
  // The loader linted the file once and the program that loaded it showed the findings.
  findings_ = cfg_.linted ? cfg_.findings : lint(cfg_);
  throw_on_lint_errors(findings_);

  static std::atomic<unsigned> instance{0};
  const unsigned inst = instance++;
  const uint32_t cap = cfg_.conntrack.size;
  if (cap > kMaxSessionsPerWorker)  // the loader refuses more (conntrack.size)
    throw std::runtime_error(
        fmt::format("conntrack.size {} is over {}", cap, kMaxSessionsPerWorker));
  void* ll = rte_zmalloc_socket("fw_log_limits", sizeof(LogLimit) * kLogLimits, RTE_CACHE_LINE_SIZE,
                                engine.worker(0).socket);
  if (!ll) throw std::runtime_error("cannot allocate the rule log limits");
  log_limits_ = new (ll) LogLimit[kLogLimits];
  const unsigned nw = engine.worker_count();
  void* rows = rte_zmalloc_socket("fw_log_supp", sizeof(std::atomic<uint64_t>) * kLogLimits * nw,
                                  RTE_CACHE_LINE_SIZE, engine.worker(0).socket);
  if (!rows) throw std::runtime_error("cannot allocate the rule log counters");
  log_supp_rows_ = new (rows) std::atomic<uint64_t>[static_cast<size_t>(kLogLimits) * nw];
  for (unsigned i = 0; i < engine.worker_count(); ++i) {
    vnf::WorkerContext& w = engine.worker(i);
    void* mem =
        rte_zmalloc_socket("fw_state", sizeof(FwWorkerState), RTE_CACHE_LINE_SIZE, w.socket);
    if (!mem) throw std::runtime_error("cannot allocate firewall worker state");
    auto* st = new (mem) FwWorkerState();
    states_.push_back(st);
    st->capacity = cap;
    st->sessions = static_cast<Session*>(
        rte_zmalloc_socket("fw_sessions", sizeof(Session) * cap, RTE_CACHE_LINE_SIZE, w.socket));
    st->free_stack = static_cast<uint32_t*>(
        rte_zmalloc_socket("fw_free", sizeof(uint32_t) * cap, RTE_CACHE_LINE_SIZE, w.socket));
    st->in_use = static_cast<uint64_t*>(rte_zmalloc_socket(
        "fw_in_use", sizeof(uint64_t) * ((cap + 63) / 64), RTE_CACHE_LINE_SIZE, w.socket));
    const uint32_t fslots = pow2_at_least(cap);
    st->flow = static_cast<uint32_t*>(
        rte_zmalloc_socket("fw_flow", sizeof(uint32_t) * fslots, RTE_CACHE_LINE_SIZE, w.socket));
    st->flow_mask = fslots - 1;
    const uint32_t eslots = pow2_at_least(cfg_.conntrack.expectations * 2);
    st->expect = static_cast<Expectation*>(rte_zmalloc_socket(
        "fw_expect", sizeof(Expectation) * eslots, RTE_CACHE_LINE_SIZE, w.socket));
    st->expect_mask = eslots - 1;
    void* rc = rte_zmalloc_socket("fw_rule_counters", sizeof(RuleCounters) * kMaxRuleSlots,
                                  RTE_CACHE_LINE_SIZE, w.socket);
    if (!st->sessions || !st->free_stack || !st->in_use || !st->flow || !st->expect || !rc)
      throw std::runtime_error(fmt::format(
          "cannot allocate a connection table of {} entries per worker (raise engine.memory_mb or "
          "lower conntrack.size)",
          cap));
    st->rules = new (rc) RuleCounters[kMaxRuleSlots];
    st->log_limits = log_limits_;
    st->log_supp_rows = log_supp_rows_;
    st->log_supp = log_supp_rows_ + static_cast<size_t>(i) * kLogLimits;
    st->n_workers = nw;
    for (uint32_t k = 0; k < cap; ++k) st->free_stack[k] = cap - 1 - k;
    st->free_top = cap;
    const std::string hname = fmt::format("fw_ct_{}_{}", inst, i);
    rte_hash_parameters hp{};
    hp.name = hname.c_str();
    hp.entries = 2 * cap;
    hp.key_len = sizeof(CtKey);
    hp.hash_func = ct_hash;
    hp.socket_id = w.socket;
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    st->hash = rte_hash_create(&hp);
    if (!st->hash)
      throw std::runtime_error(fmt::format("cannot create the connection hash ({} entries): {}",
                                           2 * cap, rte_strerror(rte_errno)));
    rte_hash_set_cmp_func(st->hash, ct_key_cmp);
    st->log_ring =
        rte_ring_create_elem(fmt::format("fw_log_{}_{}", inst, i).c_str(), sizeof(LogRecord), 1024,
                             w.socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    st->req_ring = rte_ring_create(fmt::format("fw_req_{}_{}", inst, i).c_str(), 16, w.socket,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!st->log_ring || !st->req_ring) throw std::runtime_error("cannot create firewall rings");
    pipelines_.push_back(std::make_unique<FwPipeline>(published_, *st, w));
  }
  {
    auto first = build(cfg_, 1);
    remember_names(*first);
    published_.publish(std::move(first));
  }
  const FwSnapshot& s = *published_.get();
  audit_.applied(1, cfg_.file, cfg_.hash, vnf::Requester{},
                 fmt::format("{} zones, {} rules ({} IPv4 + {} IPv6 ACL entries), {} findings",
                             cfg_.zones.size(), cfg_.rules.size(), s.acl4_entries, s.acl6_entries,
                             findings_.size()));
  // Last: nothing after it throws, so the destructor always takes it back.
  engine_.set_verdict_describer(
      [this](const vnf::CaptureVerdict& v) { return describe_verdict(v); });
}

Firewall::~Firewall() {
  engine_.set_verdict_describer(nullptr);
  for (auto* st : states_) {
    rte_hash_free(st->hash);
    rte_ring_free(st->log_ring);
    rte_ring_free(st->req_ring);
    rte_free(st->sessions);
    rte_free(st->free_stack);
    rte_free(st->in_use);
    rte_free(st->flow);
    rte_free(st->expect);
    rte_free(st->rules);
    st->~FwWorkerState();
    rte_free(st);
  }
  rte_free(log_limits_);
  rte_free(log_supp_rows_);
}

std::unique_ptr<FwSnapshot> Firewall::build(const FirewallConfig& c, uint64_t generation) {
  const Compiled comp =
      compile(c, zone_ids_, rule_slots_, [&](const std::string& n) { return engine_.port_id(n); });
  std::vector<std::pair<uint16_t, uint16_t>> wires;
  for (const auto& w : c.wires) wires.emplace_back(engine_.port_id(w.a), engine_.port_id(w.b));
  return build_snapshot(c, comp, generation, engine_.worker_count(), engine_.socket(), wires);
}

Firewall::Staged Firewall::prepare(FirewallConfig next) {
  std::lock_guard lock(mu_);
  Staged st;
  st.findings = next.linted ? next.findings : lint(next);
  throw_on_lint_errors(st.findings);
  st.generation = audit_.next_generation();
  // Zone numbers and rule counter slots of names that neither config has go back to the
  // pool: a reload that renames every rule (generated ids) must not run out of them.
  std::set<std::string> zones, rules;
  for (const auto* c : {&cfg_, &next}) {
    for (const auto& z : c->zones) zones.insert(z.name);
    for (const auto& r : c->rules) rules.insert(r.id);
  }
  zone_ids_.release_except(zones);
  rule_slots_.release_except(rules);
  st.snap = build(next, st.generation);  // throws before anything changed
  // A number given out again starts from zero for its new owner: the counters the workers
  // own are not touched, their values at reuse become the baseline telemetry subtracts.
  // Nothing running uses a reused number, so its log limits start afresh too.
  for (const uint32_t slot : rule_slots_.reused) {
    rule_base_[slot] = rule_sum(slot);
    reset_log_limit(slot);
  }
  rule_slots_.reused.clear();
  for (const uint32_t z : zone_ids_.reused) {
    zone_created_base_[z] = zone_created_sum(z);
    for (uint32_t o = 0; o < kMaxZoneIds; ++o) {
      reset_log_limit(kMaxRuleSlots + z * kMaxZoneIds + o);
      reset_log_limit(kMaxRuleSlots + o * kMaxZoneIds + z);
    }
  }
  zone_ids_.reused.clear();
  st.changes = diff(cfg_, next);
  st.cfg = std::move(next);
  return st;
}

void Firewall::apply(FirewallConfig next, const vnf::Requester& who) {
  // Bond members the file adds join first (all or nothing); those it drops leave once the
  // reload is committed, and the added ones leave again when it is not.
  const std::vector<vnf::PortDevice> devices = next.devices;
  engine_.add_bond_members(devices);
  std::optional<Staged> st;
  try {
    st.emplace(prepare(std::move(next)));
  } catch (...) {
    engine_.settle_bonds(cfg_.devices);
    throw;
  }
  commit(std::move(*st), who);
  engine_.settle_bonds(devices);
}

void Firewall::commit(Staged st, const vnf::Requester& who) {
  std::lock_guard lock(mu_);
  const uint64_t gen = st.generation;
  const auto& changes = st.changes;
  cfg_ = std::move(st.cfg);
  findings_ = std::move(st.findings);
  for (const auto& x : findings_) spdlog::warn("{}", x.str());
  remember_names(*st.snap);
  published_.publish(std::move(st.snap));
  std::string detail = changes.empty() ? "no rule changes" : "";
  for (const auto& c : changes) detail += (detail.empty() ? "" : "; ") + c;
  detail += cfg_.conntrack.recheck_established
                ? "; established connections are rechecked against the new rules"
                : "; established connections kept (recheck_established: false)";
  audit_.applied(gen, cfg_.file, cfg_.hash, who, detail);
}

void Firewall::reload(const vnf::Requester& who) {
  vnf::reload_file<FirewallConfig>(
      cfg_.file, audit_, who, parse_firewall_config,
      [&](const FirewallConfig& next, const auto& root) { check_reloadable(cfg_, next, root); },
      [&](FirewallConfig next) { apply(std::move(next), who); });
}

void Firewall::remember_names(const FwSnapshot& s) {
  auto n = std::make_shared<Names>();
  n->generation = static_cast<uint32_t>(s.generation);
  n->rule_ids = s.rule_ids;
  n->zone_names = s.zone_names;
  std::lock_guard lock(names_mu_);
  names_.push_back(std::move(n));
  if (names_.size() > kNamesKept) names_.pop_front();
}

std::shared_ptr<const Firewall::Names> Firewall::names_of(uint32_t generation) const {
  std::lock_guard lock(names_mu_);
  for (auto it = names_.rbegin(); it != names_.rend(); ++it)
    if ((*it)->generation == generation) return *it;
  return nullptr;
}

std::string Firewall::log_rule(uint32_t rule, uint32_t generation) const {
  if (!rule) return "policy";
  const auto n = names_of(generation);
  if (n && rule <= n->rule_ids.size()) return n->rule_ids[rule - 1];
  return fmt::format("#{}@gen{}", rule, generation);
}

std::string Firewall::log_zone(uint8_t z, uint32_t generation) const {
  const auto n = names_of(generation);
  if (n && z < n->zone_names.size() && !n->zone_names[z].empty()) return n->zone_names[z];
  return fmt::format("#{}@gen{}", z, generation);
}

// Wall-clock milliseconds of a log record, from its worker's TSC.
int64_t Firewall::log_time_ms(const LogRecord& r) const {
  const uint64_t age_ms = (rte_rdtsc() - r.tsc) * 1000 / (tsc_hz_ ? tsc_hz_ : 1);
  const auto when = std::chrono::system_clock::now() - std::chrono::milliseconds(age_ms);
  return std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
}

std::string Firewall::describe_verdict(const vnf::CaptureVerdict& v) const {
  const std::string rule = v.rule ? "rule=" + log_rule(v.rule, v.generation) : "policy";
  return fmt::format("{} {} from={} to={}", action_name(Action(v.action)), rule,
                     log_zone(v.zsrc, v.generation), log_zone(v.zdst, v.generation));
}

std::string Firewall::format_log(const LogRecord& r) const {
  const std::string rule = log_rule(r.rule, r.generation);
  const auto ms = log_time_ms(r);
  const char* pn = proto_name(r.proto);
  const bool ports = r.proto == kProtoTcp || r.proto == kProtoUdp;
  return fmt::format("fw-log: time_ms={} rule={} action={} from={} to={} proto={} src={} dst={}",
                     ms, rule, action_name(Action(r.action)), log_zone(r.zsrc, r.generation),
                     log_zone(r.zdst, r.generation), pn ? pn : std::to_string(r.proto),
                     endpoint(r.family, r.src, r.sport, ports),
                     endpoint(r.family, r.dst, r.dport, ports));
}

vnf::events::Event Firewall::log_event(const LogRecord& r) const {
  const std::string rule = log_rule(r.rule, r.generation);
  const auto ms = log_time_ms(r);
  const char* pn = proto_name(r.proto);
  const bool ports = r.proto == kProtoTcp || r.proto == kProtoUdp;
  const Action a = Action(r.action);
  vnf::events::Event e("fw_log", a == Action::kAccept ? vnf::events::Severity::kInfo
                                                      : vnf::events::Severity::kNotice);
  e.str("packet_time", vnf::events::rfc3339_ms(ms))
      .str("rule", rule)
      .str("action", action_name(a))
      .str("from_zone", log_zone(r.zsrc, r.generation))
      .str("to_zone", log_zone(r.zdst, r.generation))
      .str("proto", pn ? pn : std::to_string(r.proto))
      .str("src", addr_str(r.family, r.src))
      .str("dst", addr_str(r.family, r.dst));
  if (ports) e.num("sport", r.sport).num("dport", r.dport);
  e.num("suppressed", r.suppressed);
  return e;
}

unsigned Firewall::drain_logs(unsigned budget) {
  unsigned n = 0;
  LogRecord recs[32];
  for (auto* st : states_) {
    unsigned left = budget;
    while (left) {
      const unsigned got = rte_ring_sc_dequeue_burst_elem(st->log_ring, recs, sizeof(LogRecord),
                                                          std::min(left, 32u), nullptr);
      if (!got) break;
      left -= got;
      for (unsigned i = 0; i < got; ++i) {
        spdlog::info("{}", format_log(recs[i]));
        if (vnf::events::enabled()) vnf::events::emit(log_event(recs[i]));
      }
      n += got;
    }
  }
  return n;
}

bool Firewall::tick(uint64_t now_ms) {
  unsigned n;
  {
    std::lock_guard lock(mu_);
    n = drain_logs();
  }
  log_pressure(now_ms);
  return n > 0;
}

void Firewall::log_pressure(uint64_t now_ms) {
  if (now_ms < next_pressure_ms_) return;
  next_pressure_ms_ = now_ms + 10000;  // at most one line per kind every 10 s
  const uint64_t full = counter(&FwCounters::table_full);
  const uint64_t limit = counter(&FwCounters::zone_limit);
  const uint64_t supp = counter(&FwCounters::log_suppressed);
  const uint64_t ring = counter(&FwCounters::log_ring_full);
  if (full != logged_full_)
    spdlog::warn(
        "connection table full ({} per worker): {} new connections refused in the last 10 s",
        cfg_.conntrack.size, full - logged_full_);
  if (limit != logged_limit_)
    spdlog::warn(
        "zone connection limits: {} new connections refused in the last 10 s (see /vnf/fw/zones)",
        limit - logged_limit_);
  if (supp != logged_suppressed_ || ring != logged_ring_)
    spdlog::warn(
        "rule logging: {} records over their rule's log_rate and {} lost to a full queue in "
        "the last 10 s",
        supp - logged_suppressed_, ring - logged_ring_);
  logged_full_ = full;
  logged_limit_ = limit;
  logged_suppressed_ = supp;
  logged_ring_ = ring;
}

bool Firewall::run_request(Request::Kind kind, const SessionFilter& f, uint32_t max,
                           std::vector<SessionView>& out, uint32_t& found,
                           const std::function<void()>& pump, unsigned timeout_ms) {
  std::lock_guard lock(mu_);
  const unsigned nw = workers();
  std::vector<std::unique_ptr<Request>> reqs;
  std::vector<std::vector<SessionView>> bufs(nw);
  for (unsigned i = 0; i < nw; ++i) {
    auto r = std::make_unique<Request>();
    r->kind = kind;
    r->filter = f;
    bufs[i].resize(kind == Request::kDump ? max : 0);
    r->out = bufs[i].data();
    r->max = kind == Request::kDump ? max : 0;
    if (rte_ring_sp_enqueue(states_[i]->req_ring, r.get()) != 0) return false;
    reqs.push_back(std::move(r));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool all = true;
    for (auto& r : reqs) all = all && r->done.load(std::memory_order_acquire);
    if (all) break;
    if (std::chrono::steady_clock::now() > deadline) {
      // The requests stay queued: leak them rather than free memory a worker may still use.
      for (auto& r : reqs) (void)r.release();
      for (auto& b : bufs) new std::vector<SessionView>(std::move(b));
      return false;
    }
    if (pump)
      pump();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  found = 0;
  out.clear();
  for (unsigned i = 0; i < nw; ++i) {
    found += reqs[i]->found;
    const uint32_t got = std::min(reqs[i]->found, reqs[i]->max);
    for (uint32_t k = 0; k < got && out.size() < max; ++k) out.push_back(bufs[i][k]);
  }
  return true;
}

long Firewall::flush_port(uint16_t port, const std::function<void()>& pump) {
  SessionFilter f;
  f.has_port = 1;
  f.port = static_cast<uint8_t>(port);
  std::vector<SessionView> none;
  uint32_t found = 0;
  if (!run_request(Request::kFlush, f, 0, none, found, pump)) return -1;
  return found;
}

RuleStats Firewall::rule_sum(uint32_t slot) const {
  RuleStats r;
  for (const auto* st : states_) {
    const RuleCounters& c = st->rules[slot];
    r.hits += c.hits.get();
    r.packets += c.packets.get();
    r.bytes += c.bytes.get();
    r.last_hit_s = std::max(r.last_hit_s, c.last_hit_s.load(std::memory_order_relaxed));
  }
  return r;
}

uint64_t Firewall::zone_created_sum(uint32_t zone) const {
  uint64_t n = 0;
  for (const auto* st : states_) n += st->counters.zone_created[zone].get();
  return n;
}

uint64_t Firewall::zone_created(const std::string& zone) const {
  const uint8_t z = zone_id(zone);
  return z ? zone_created_sum(z) - zone_created_base_[z] : 0;
}

RuleStats Firewall::rule_stats(const std::string& id) const {
  auto it = rule_slots_.ids.find(id);
  if (it == rule_slots_.ids.end()) return RuleStats{};
  RuleStats r = rule_sum(it->second);
  const RuleStats& base = rule_base_[it->second];
  r.hits -= base.hits;
  r.packets -= base.packets;
  r.bytes -= base.bytes;
  if (r.last_hit_s <= base.last_hit_s) r.last_hit_s = 0;  // none since the rule got the slot
  return r;
}

uint8_t Firewall::zone_id(const std::string& zone) const {
  auto it = zone_ids_.ids.find(zone);
  return it == zone_ids_.ids.end() ? 0 : static_cast<uint8_t>(it->second);
}

uint64_t Firewall::active(const std::string& zone) const {
  const uint8_t z = zone_id(zone);
  if (!z) return 0;
  uint64_t created = 0, closed = 0;
  for (const auto* st : states_) {
    created += st->counters.zone_created[z].get();
    closed += st->counters.zone_closed[z].get();
  }
  return created - closed;
}

uint64_t Firewall::counter(vnf::Counter FwCounters::*c) const {
  uint64_t t = 0;
  for (const auto* st : states_) t += (st->counters.*c).get();
  return t;
}

uint64_t Firewall::sessions_in_use() const {
  return counter(&FwCounters::created) - counter(&FwCounters::closed);
}

}  // namespace vfirewall
