// A thin layer over POSIX file calls for the storage engine: an owned file descriptor with
// append, positional read, truncate and fdatasync, plus the directory operations recovery and
// retention need. Every call checks the system's answer; a failure is Status::IoError naming
// the path and the errno text. A File may be used from several threads at once (pread, write
// with O_APPEND and fdatasync are safe together); the owner serialises appends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace tern::broker::storage {

class File {
 public:
  // Opens `path` for reading and appending, creating it (mode 0644) when `create` is set.
  // Fails with NotFound when it is missing and `create` is not set.
  static Result<std::unique_ptr<File>> Open(const std::string& path, bool create);
  // Creates `path` empty, discarding any old content.
  static Result<std::unique_ptr<File>> CreateTruncated(const std::string& path);

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Writes all of `bytes` at the end of the file (retrying short writes).
  Status Append(std::string_view bytes);
  // Writes `pieces` one after another at the end of the file, with as few writev calls as
  // they allow (retrying short writes).
  Status Append(std::span<const std::string_view> pieces);
  // Reads exactly `n` bytes at `position`; fails with IoError if the file is shorter.
  Status ReadAt(std::int64_t position, std::size_t n, char* out) const;
  Status Truncate(std::int64_t size);
  Status DataSync();
  Result<std::int64_t> Size() const;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Where the file now lives, after a RenameFile of it (the descriptor stays valid).
  void set_path(std::string path) { path_ = std::move(path); }

 private:
  static Result<std::unique_ptr<File>> OpenWithFlags(const std::string& path, int flags);
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

// IoError with "<what> <path>: <strerror(errno)>".
Status ErrnoStatus(std::string_view what, const std::string& path, int err);

// fsync of a directory, making created, renamed and removed entries durable.
Status SyncDirectory(const std::string& dir);
// Replaces `path` with `contents` atomically and durably: temp file, fsync, rename, fsync dir.
Status WriteFileDurably(const std::string& dir, const std::string& name, std::string_view contents);
// The whole content of `path`; NotFound when it does not exist.
Result<std::string> ReadWholeFile(const std::string& path);
Status RenameFile(const std::string& from, const std::string& to);
// Removes a file; a missing file is not an error.
Status RemoveFile(const std::string& path);
bool FileExists(const std::string& path);
Status CreateDirectories(const std::string& dir);
Status RemoveDirectoryTree(const std::string& dir);
// Names (not paths) of the entries in `dir`.
Result<std::vector<std::string>> ListDirectory(const std::string& dir);

}  // namespace tern::broker::storage
