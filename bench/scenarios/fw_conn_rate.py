"""fw-conn-rate: new connections per second one core sets up, every packet a new UDP flow.

Replaying a pcap cannot produce a stream of new connections (after one pass the flows
repeat while their entries live; millions of distinct flows would need gigabytes of mbufs),
so this scenario runs the firewall pipeline in process (bench/micro/fw_bench, hugepages, the
real stage and tables) and reports connections per second and cycles per connection."""
NAME = "fw-conn-rate"
DESCRIPTION = "new UDP connections per second per core, 1000 rules, 400k connections"
PROGRAM = "vfirewall"
MICRO_ONLY = True
MICRO_EXE = "fw_bench"
VARIANTS = [{"id": "1k-rules", "rules": 1000, "connections": 400000}]
SMOKE = {"id": "smoke", "rules": 100, "connections": 20000}


def micro_args(v):
    return ["--rules", str(v["rules"]), "--new-connections", str(v["connections"])]


def summarize(m):
    return {"connections_per_s": m["connections_per_s"], "cycles_per_connection": m["cycles_per_connection"],
            "refused": m["refused"]}
