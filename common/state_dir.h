// The state directory of an appliance (default /var/lib/vnf/NAME): every applied config,
// byte for byte, with its hash, time, uid and version number, so that an operator (or the
// confirm timer) can go back to any of the last N. Control thread only; nothing here is on
// the fast path.
//
// Layout: vNNNNNNNN.yaml (the exact bytes that were parsed) and vNNNNNNNN.meta (key=value
// lines). Both are written as a fresh temp file in the directory (O_EXCL | O_NOFOLLOW),
// fsynced and renamed into place, the content before the meta: a version is listed only once
// both are complete. Version numbers grow across restarts (the highest kept + 1).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vnf {

struct StoredVersion {
  uint64_t version = 0;
  uint64_t generation = 0;  // the appliance's config generation when it was applied
  std::string time;         // ISO 8601 local time
  uint32_t uid = 0;
  int32_t pid = 0;
  std::string via;  // start | SIGHUP | rollback | automatic rollback
  std::string hash;
  uint64_t bytes = 0;
};

class StateDir {
 public:
  static constexpr unsigned kDefaultKeep = 20;

  // Uses `dir`, creating it (and missing parents) with mode 0750. Throws std::runtime_error
  // when it cannot, or when the directory is writable by group or others or is owned by
  // another user than root or us (someone else could swap the files we restore from).
  StateDir(std::string dir, unsigned keep = kDefaultKeep);

  const std::string& path() const { return dir_; }
  unsigned keep() const { return keep_; }

  // Keeps `bytes` as a new version (meta.version and meta.bytes are set here) and drops the
  // oldest beyond `keep`. Returns the version number. Throws std::runtime_error on I/O errors
  // (no partial file is left under a final name).
  uint64_t save(const std::string& bytes, StoredVersion meta);
  std::vector<StoredVersion> list() const;  // complete versions, oldest first
  std::optional<StoredVersion> find(uint64_t version) const;
  // The kept bytes of `version`; throws std::runtime_error when it is not kept or its bytes
  // no longer match the recorded hash.
  std::string read(uint64_t version) const;

 private:
  void prune();

  std::string dir_;
  unsigned keep_;
};

// Writes `bytes` to `path` atomically: a fresh file in the same directory (O_CREAT | O_EXCL |
// O_NOFOLLOW), fsync, rename over `path`, fsync of the directory. Readers see the old or the
// new content, never a mix. private_dir: refuse a directory others can write (where another
// user could plant links). sync = false: no fsync of the file nor of the directory (the
// content is still all or nothing for readers, but a power cut may undo the write). Throws
// std::runtime_error.
void write_file_atomic(const std::string& path, const std::string& bytes, mode_t mode = 0640,
                       bool private_dir = false, bool sync = true);

// Throws std::runtime_error unless `dir` is a directory (not a link) owned by root or us and
// not writable by group or others.
void check_private_dir(const std::string& dir, const std::string& what);

}  // namespace vnf
