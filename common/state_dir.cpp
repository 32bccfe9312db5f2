#include "common/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "common/audit.h"
#include "common/input_file.h"

namespace vnf {

namespace {

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

std::string version_name(uint64_t v, const char* ext) { return fmt::format("v{:08}.{}", v, ext); }

// "v00000012.meta" -> 12; 0 for anything else.
uint64_t meta_version(const std::string& name) {
  if (name.size() != 14 || name[0] != 'v' || name.compare(9, 5, ".meta") != 0) return 0;
  uint64_t v = 0;
  for (size_t i = 1; i < 9; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return v;
}

void make_dirs(const std::string& dir) {
  std::filesystem::path partial;
  for (const auto& part : std::filesystem::path(dir)) {
    partial /= part;
    if (part.empty() || part == "/") continue;
    if (::mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST)
      throw sys_error(fmt::format("state directory {}: cannot create {}", dir, partial.string()));
  }
}

std::optional<StoredVersion> parse_meta(const std::string& text, uint64_t version) {
  StoredVersion m;
  m.version = version;
  std::stringstream ss(text);
  std::string line;
  bool have_hash = false;
  try {
    while (std::getline(ss, line)) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      if (k == "generation")
        m.generation = std::stoull(v);
      else if (k == "time")
        m.time = v;
      else if (k == "uid")
        m.uid = static_cast<uint32_t>(std::stoul(v));
      else if (k == "pid")
        m.pid = std::stoi(v);
      else if (k == "via")
        m.via = v;
      else if (k == "hash")
        m.hash = v, have_hash = true;
      else if (k == "bytes")
        m.bytes = std::stoull(v);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!have_hash) return std::nullopt;
  return m;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

namespace {

// The directory open as `fd` is owned by root or us and nobody else can write to it.
bool private_dir_fd(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && (st.st_uid == 0 || st.st_uid == ::geteuid()) &&
         (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

std::runtime_error not_private(const std::string& what, const std::string& dir) {
  return std::runtime_error(fmt::format(
      "{} {} is writable by other users (or not ours): use a directory only root can write "
      "(mode 0750 or stricter)",
      what, dir));
}

}  // namespace

void check_private_dir(const std::string& dir, const std::string& what) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw sys_error(fmt::format("{} {}", what, dir));
  const bool ok = private_dir_fd(fd);
  ::close(fd);
  if (!ok) throw not_private(what, dir);
}

void write_file_atomic(const std::string& path, const std::string& bytes, mode_t mode,
                       bool private_dir, bool sync) {
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  const std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw std::runtime_error(fmt::format("{}: not a file name", path));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw sys_error(fmt::format("{}: directory {}", path, dir));
  // Checked on the directory we write into: nobody can swap it between check and write.
  if (private_dir && !private_dir_fd(dfd)) {
    ::close(dfd);
    throw not_private(path + ": directory", dir);
  }
  const std::string tmp = fmt::format("{}.tmp.{}", name, ::getpid());
  ::unlinkat(dfd, tmp.c_str(), 0);  // a leftover of an earlier process with our pid
  const int fd =
      ::openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    const auto e = sys_error(fmt::format("{}: cannot create {}/{}", path, dir, tmp));
    ::close(dfd);
    throw e;
  }
  size_t off = 0;
  bool ok = true;
  while (ok && off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += static_cast<size_t>(n);
  }
  ok = ok && ::fchmod(fd, mode) == 0 && (!sync || ::fsync(fd) == 0);
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::renameat(dfd, tmp.c_str(), dfd, name.c_str()) == 0;
  if (!ok) {
    const auto e = sys_error(fmt::format("{}: cannot write", path));
    ::unlinkat(dfd, tmp.c_str(), 0);
    ::close(dfd);
    throw e;
  }
  // The rename itself reaches the disk: durable only once the directory is synced.
  if (sync && ::fsync(dfd) != 0) {
    const auto e = sys_error(fmt::format("{}: sync of {}", path, dir));
    ::close(dfd);
    throw e;
  }
  ::close(dfd);
}

StateDir::StateDir(std::string dir, unsigned keep) : dir_(std::move(dir)), keep_(keep) {
  if (dir_.empty()) throw std::runtime_error("state directory: empty path");
  if (keep_ < 2)
    throw std::runtime_error("--keep-versions: at least 2 (the running one and one to go back to)");
  make_dirs(dir_);
  check_private_dir(dir_, "state directory");
}

uint64_t StateDir::save(const std::string& bytes, StoredVersion meta) {
  const auto kept = list();
  uint64_t v = 1;
  // The highest number in the directory, complete or not, so that a half-written version of
  // a crashed run is never mistaken for a new one.
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d)) v = std::max(v, meta_version(e->d_name) + 1);
    ::closedir(d);
  }
  for (const auto& k : kept) v = std::max(v, k.version + 1);
  if (v > 99999999) throw std::runtime_error("state directory: version numbers exhausted");
  meta.version = v;
  meta.bytes = bytes.size();
  write_file_atomic(dir_ + "/" + version_name(v, "yaml"), bytes, 0640);
  const std::string text =
      fmt::format("version={}\ngeneration={}\ntime={}\nuid={}\npid={}\nvia={}\nhash={}\nbytes={}\n",
                  v, meta.generation, one_line(meta.time), meta.uid, meta.pid, one_line(meta.via),
                  one_line(meta.hash), meta.bytes);
  write_file_atomic(dir_ + "/" + version_name(v, "meta"), text, 0640);
  prune();
  return v;
}

std::vector<StoredVersion> StateDir::list() const {
  std::vector<StoredVersion> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  std::vector<uint64_t> numbers;
  while (dirent* e = ::readdir(d))
    if (const uint64_t v = meta_version(e->d_name)) numbers.push_back(v);
  ::closedir(d);
  std::sort(numbers.begin(), numbers.end());
  for (const uint64_t v : numbers)
    if (auto m = find(v)) out.push_back(*m);
  return out;
}

std::optional<StoredVersion> StateDir::find(uint64_t version) const {
  std::string text;
  try {
    text = read_input_file(dir_ + "/" + version_name(version, "meta"), 64 * 1024);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  struct stat st {};
  if (::stat((dir_ + "/" + version_name(version, "yaml")).c_str(), &st) != 0) return std::nullopt;
  return parse_meta(text, version);
}

std::string StateDir::read(uint64_t version) const {
  const auto m = find(version);
  if (!m) throw std::runtime_error(fmt::format("version {} is not kept in {}", version, dir_));
  std::string bytes;
  try {
    bytes = read_input_file(dir_ + "/" + version_name(version, "yaml"), kMaxConfigFileBytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("version {}: {}", version, e.what()));
  }
  if (content_hash(bytes) != m->hash || bytes.size() != m->bytes)
    throw std::runtime_error(
        fmt::format("version {} in {}: its bytes no longer match hash {}", version, dir_, m->hash));
  return bytes;
}

void StateDir::prune() {
  auto kept = list();
  while (kept.size() > keep_) {
    const uint64_t v = kept.front().version;
    // The meta first: a version without its meta is not listed.
    ::unlink((dir_ + "/" + version_name(v, "meta")).c_str());
    ::unlink((dir_ + "/" + version_name(v, "yaml")).c_str());
    kept.erase(kept.begin());
  }
}

}  // namespace vnf
