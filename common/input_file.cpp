#include "common/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace vnf {

namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

std::string size_text(size_t bytes) {
  return bytes % (1u << 20) == 0 ? fmt::format("{} MiB", bytes >> 20)
                                 : fmt::format("{} bytes", bytes);
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_input_file(const std::string& path, size_t max_bytes) {
  if (path.empty()) throw InputFileError("empty file name");
  // Its type first, by name: a socket cannot even be opened (ENXIO), and the answer should
  // say what the path is. fstat() below checks again what was actually opened.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw InputFileError(fmt::format("is {}, not a regular file", kind_of(st.st_mode)));
  // O_NONBLOCK: opening a FIFO for reading never waits for a writer (it is refused below
  // by its type); O_NOCTTY: a terminal device never becomes our controlling terminal.
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
  if (f.fd < 0) throw InputFileError(fmt::format("cannot open: {}", std::strerror(errno)));
  if (::fstat(f.fd, &st) != 0)
    throw InputFileError(fmt::format("cannot stat: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    throw InputFileError(fmt::format("is {}, not a regular file", kind_of(st.st_mode)));
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw InputFileError(fmt::format("is {} bytes, larger than the limit of {}",
                                     static_cast<uint64_t>(st.st_size), size_text(max_bytes)));
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  // The file may grow while it is read (an editor still writing): read at most max_bytes + 1
  // to tell "too large" from "exactly the limit".
  for (;;) {
    if (got == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(max_bytes + 1, std::max<size_t>(out.size() * 2, 4096)));
    }
    const ssize_t n = ::read(f.fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputFileError(fmt::format("cannot read: {}", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes)
    throw InputFileError(fmt::format("is larger than the limit of {}", size_text(max_bytes)));
  out.resize(got);
  return out;
}

}  // namespace vnf
