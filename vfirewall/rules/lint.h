// Lint of a loaded rule set, run at every validation (--check, start-up, reload):
//   - a rule shadowed by an earlier rule (it can never match): warning;
//   - a rule that can never match for another reason (IPv4-only source, IPv6-only
//     destination...): warning;
//   - address and service objects no rule, zone or group uses: warning;
//   - an accept rule between zones bound to different segments, i.e. one that makes two
//     segments reachable that are kept apart: error unless the rule says cross_segment: true.
// Errors refuse the config like a syntax error does; warnings are logged.
#pragma once

#include <string>
#include <vector>

#include "vfirewall/rules/config.h"

namespace vfirewall {

std::vector<Finding> lint(const FirewallConfig& c);

// Throws vnf::config::ConfigError for the first error finding.
void throw_on_lint_errors(const std::vector<Finding>& findings);

}  // namespace vfirewall
