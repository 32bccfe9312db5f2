// Reading a file an operator points at (a config file, a route file): only a regular file, of
// bounded size, opened so that it can never block. A FIFO, a device (/dev/zero), a directory
// or a socket is refused at once with a message that says what it is, so that a careless path
// cannot hang or exhaust the control thread of a running appliance.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace vnf {

inline constexpr size_t kMaxConfigFileBytes = size_t{32} << 20;  // appliance YAML files
inline constexpr size_t kMaxRouteFileBytes = size_t{256} << 20;  // route files (1 M routes ~ 40 MB)

// What went wrong, without a position (the caller knows which key or file named the path).
class InputFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The whole content of `path` (symlinks followed, the target must be a regular file of at
// most `max_bytes`). Throws InputFileError.
std::string read_input_file(const std::string& path, size_t max_bytes);

}  // namespace vnf
