// The program's own log (spdlog): ISO 8601 local time with offset, level, message. Goes to
// stderr and, when engine.log_file is set, to that file too. Never used on the fast path.
#pragma once

#include <string>

namespace vnf {

void init_logging(const std::string& program, const std::string& level, const std::string& file);

}  // namespace vnf
