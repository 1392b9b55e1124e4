#include "broker/storage/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace tern::broker::storage {

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return Status::IoError(fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

Result<std::unique_ptr<File>> File::OpenWithFlags(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(fmt::format("no file {}", path));
    return ErrnoStatus("open", path, errno);
  }
  return std::unique_ptr<File>(new File(fd, path));
}

Result<std::unique_ptr<File>> File::Open(const std::string& path, bool create) {
  return OpenWithFlags(path, O_RDWR | O_APPEND | (create ? O_CREAT : 0));
}

Result<std::unique_ptr<File>> File::CreateTruncated(const std::string& path) {
  return OpenWithFlags(path, O_RDWR | O_APPEND | O_CREAT | O_TRUNC);
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Status File::Append(std::string_view bytes) {
  return Append(std::span<const std::string_view>(&bytes, 1));
}

Status File::Append(std::span<const std::string_view> pieces) {
  std::vector<iovec> iov;  // what is still to write, at most IOV_MAX pieces at a time
  std::size_t next = 0;    // the first piece not yet in `iov`
  for (;;) {
    for (; next < pieces.size() && iov.size() < IOV_MAX; ++next) {
      if (!pieces[next].empty()) {
        iov.push_back({const_cast<char*>(pieces[next].data()), pieces[next].size()});
      }
    }
    if (iov.empty()) return Status::Ok();
    const ssize_t n = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path_, errno);
    }
    // Drop what was written whole; a short write leaves the rest of one piece first.
    auto left = static_cast<std::size_t>(n);
    auto done = iov.begin();
    for (; done != iov.end() && left >= done->iov_len; ++done) left -= done->iov_len;
    iov.erase(iov.begin(), done);
    if (!iov.empty()) {
      iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + left;
      iov.front().iov_len -= left;
    }
  }
}

Status File::ReadAt(std::int64_t position, std::size_t n, char* out) const {
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, n, position);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path_, errno);
    }
    if (got == 0) {
      return Status::IoError(fmt::format("read {}: file ends at {}", path_, position));
    }
    out += got;
    n -= static_cast<std::size_t>(got);
    position += got;
  }
  return Status::Ok();
}

Status File::Truncate(std::int64_t size) {
  if (::ftruncate(fd_, size) != 0) return ErrnoStatus("truncate", path_, errno);
  return Status::Ok();
}

Status File::DataSync() {
  if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
  return Status::Ok();
}

Result<std::int64_t> File::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
  return static_cast<std::int64_t>(st.st_size);
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync directory", dir, err);
  return Status::Ok();
}

Status WriteFileDurably(const std::string& dir, const std::string& name,
                        std::string_view contents) {
  const std::string tmp = dir + "/" + name + ".tmp";
  {
    Result<std::unique_ptr<File>> file = File::CreateTruncated(tmp);
    if (!file.ok()) return file.status();
    if (Status s = file.value()->Append(contents); !s.ok()) return s;
    if (Status s = file.value()->DataSync(); !s.ok()) return s;
  }
  if (Status s = RenameFile(tmp, dir + "/" + name); !s.ok()) return s;
  return SyncDirectory(dir);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  Result<std::unique_ptr<File>> file = File::Open(path, /*create=*/false);
  if (!file.ok()) return file.status();
  Result<std::int64_t> size = file.value()->Size();
  if (!size.ok()) return size.status();
  std::string out(static_cast<std::size_t>(size.value()), '\0');
  if (Status s = file.value()->ReadAt(0, out.size(), out.data()); !s.ok()) return s;
  return out;
}

Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::IoError(fmt::format("rename {} to {}: {}", from, to, std::strerror(errno)));
  }
  return Status::Ok();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove", path, errno);
  return Status::Ok();
}

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Status CreateDirectories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("create directory {}: {}", dir, ec.message()));
  return Status::Ok();
}

Status RemoveDirectoryTree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return Status::IoError(fmt::format("remove directory {}: {}", dir, ec.message()));
  return Status::Ok();
}

Result<std::vector<std::string>> ListDirectory(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Status::IoError(fmt::format("list directory {}: {}", dir, ec.message()));
  return names;
}

}  // namespace tern::broker::storage
