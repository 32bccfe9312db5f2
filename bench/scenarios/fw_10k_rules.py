"""fw-10k-rules: fw-1k-rules with 10000 rules (the same job, ten times the rule set)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import fw_1k_rules as base  # noqa: E402
from fw_1k_rules import PEER, PORTS, PROGRAM, MICRO_EXE, traffic, config, ovs_setup, micro_args  # noqa: E402,F401

NAME = "fw-10k-rules"
DESCRIPTION = base.DESCRIPTION.replace("1000 rules", "10000 rules")
VARIANTS = [dict(v, rules=10000) for v in base.VARIANTS]
SMOKE = dict(base.SMOKE, rules=1000)
