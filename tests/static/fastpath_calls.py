#!/usr/bin/python3
"""The fast path allocates nothing, locks nothing, throws nothing and logs nothing: checked on
the built programs. From each program's worker loop (vnf::worker_main / vnf::poll_once) every
function reachable by direct calls in the binary is collected from `objdump -d`; none may call
an allocator, a lock, a throw or a logger. Calls into DPDK's shared libraries (rte_*) are the
fast path's own business and are not followed; indirect calls (driver burst functions) cannot be.

Also: the per-packet helpers that must be inlined into their burst loops are (INLINED). A
call per packet there cost the switch 8 % once, unseen by the stage microbenchmarks, when a
second caller made the compiler move parse_mbuf out of line; the same happened to
WorkerContext::send, every flood copy's way out (l2-flood 4 %).

  fastpath_calls.py BUILD_DIR     prints PASS/FAIL lines and a closing result line
"""
import re
import subprocess
import sys

FORBIDDEN = [
    (re.compile(r"operator new|malloc|calloc|realloc|posix_memalign|rte_malloc|rte_zmalloc"), "allocates"),
    (re.compile(r"pthread_mutex_lock|pthread_rwlock|std::mutex|sem_wait|pthread_spin_lock"), "locks"),
    (re.compile(r"__cxa_throw|__cxa_allocate_exception|std::__throw_"), "throws"),
    (re.compile(r"spdlog|rte_log|printf|puts|fwrite|syslog|std::basic_ostream"), "logs"),
]
# Functions that must have no out-of-line copy (each is [[gnu::always_inline]]).
INLINED = ["vnf::parse_mbuf(", "vnf::parse_frame(", "vnf::parse_fast(", "vnf::WorkerContext::send("]
ROOTS = re.compile(r"^(unsigned int |int )?vnf::(poll_once|worker_main)<")
FN = re.compile(r"^([0-9a-f]+) <(.*)>:$")
CALL = re.compile(r"\s(?:call|jmp)\s+([0-9a-f]+) <(.*)>\s*$")  # names may hold <...>


def functions(binary):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", binary], check=True,
                         capture_output=True, text=True).stdout
    fns, cur = {}, None
    for line in out.splitlines():
        m = FN.match(line)
        if m:
            cur = m.group(2)
            fns[cur] = []
            continue
        if cur is None:
            continue
        c = CALL.search(line)
        if c:
            target = re.sub(r"\+0x[0-9a-f]+$", "", c.group(2))
            if target != cur:
                fns[cur].append(target)
    return fns


def reachable(fns):
    todo = [f for f in fns if ROOTS.match(f)]
    seen = set(todo)
    while todo:
        f = todo.pop()
        for t in fns.get(f, []):
            if t.endswith("@plt") or t not in fns or t in seen:
                continue
            seen.add(t)
            todo.append(t)
    return seen


def violations(fns, names):
    bad = []
    for f in sorted(names):
        for t in fns[f]:
            for pat, what in FORBIDDEN:
                if pat.search(t):
                    bad.append(f"{f[:100]} {what}: calls {t[:80]}")
    return bad


def main():
    build = sys.argv[1]
    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        print(("PASS: " if ok else "FAIL: ") + what)
        if not ok and detail:
            print("--- " + what + "\n" + detail)
        passed, failed = passed + ok, failed + (not ok)

    # The stages that run real traffic (their dry variants, <true>, serve vnfctl why).
    programs = {"vswitch/vswitch": "void vswitch::L2Lookup::run<false>(",
                "vrouter/vrouter": "vrouter::RoutingT<false>::process(",
                "vfirewall/vfirewall": "vfirewall::FirewallStageT<false>::process("}
    for prog, stage in programs.items():
        fns = functions(f"{build}/{prog}")
        fast = reachable(fns)
        # The walk must reach the main stage, or it proves nothing (a rename would empty it).
        check(any(f.startswith(stage) for f in fast),
              f"{prog}: the walk from the worker loop reaches {stage[:-1]} ({len(fast)} functions)",
              "\n".join(sorted(fast)))
        # ...and the detector must see what it looks for: the control path does allocate and log.
        control = violations(fns, set(fns) - fast)
        check(any("allocates" in v for v in control) and any("throws" in v for v in control),
              f"{prog}: the detector sees allocations and throws outside the fast path ({len(control)} calls)")
        outlined = [f for f in fns if any(f.startswith(n) for n in INLINED)]
        check(not outlined, f"{prog}: the per-packet parser and send are inlined into their burst loops",
              "out of line: " + ", ".join(outlined))
        bad = violations(fns, fast)
        check(not bad, f"{prog}: no function of the fast path allocates, locks, throws or logs",
              "\n".join(bad[:40]))
    print(f"static/fastpath_calls: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
