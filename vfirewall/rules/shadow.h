// Shadowed rules (lint): a rule that an earlier rule matches entirely can never match. Rule
// j is compared only with the earlier rules that could cover it: an index by the source and
// destination addresses (the smallest prefix around each rule's ranges, per family), the
// zones and the protocols gives, for one point of rule j in each dimension, the rules that
// contain it; j is compared with the smallest of these candidate lists, in rule order, until
// one covers it. Typical rule sets (specific sources, destinations or ports) cost about
// O(rules log rules); a hostile one is cut off by a work budget and says so in a finding.
#pragma once

#include <vector>

#include "vfirewall/rules/config.h"

namespace vfirewall {

struct RuleSets {
  AddrSet src, dst;
  std::vector<ServiceEntry> services;  // normalised (normalize_services)
};

// Comparisons (weighted by the size of the sets compared) the shadow check may spend.
inline constexpr uint64_t kShadowBudget = 50'000'000;

// `sets[i]` resolved for c.rules[i]; `never[i]`: rule i can never match (reported elsewhere,
// not checked for shadowing). Appends warnings to `out`.
void find_shadowed(const FirewallConfig& c, const std::vector<RuleSets>& sets,
                   const std::vector<bool>& never, std::vector<Finding>& out,
                   uint64_t budget = kShadowBudget);

// a matches every service b matches (both normalised).
bool services_cover(const std::vector<ServiceEntry>& a, const std::vector<ServiceEntry>& b);

}  // namespace vfirewall
