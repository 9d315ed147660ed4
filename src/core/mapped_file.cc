#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace seedtune {

namespace {

// Opens a regular file for reading (symlinks followed). O_NONBLOCK: opening
// a FIFO would otherwise wait for a writer forever; anything but a regular
// file is refused by its type before a byte is read.
StatusOr<int> OpenRegularFile(const std::string& path, struct stat* st) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("{}: no such file", path);
    return IoError("{}: cannot open: {}", path, std::strerror(errno));
  }
  if (::fstat(fd, st) != 0) {
    const int e = errno;
    ::close(fd);
    return IoError("{}: cannot stat: {}", path, std::strerror(e));
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    const char* what = S_ISDIR(st->st_mode)    ? "a directory"
                       : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(st->st_mode)  ? "a character device"
                       : S_ISBLK(st->st_mode)  ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "not a regular file";
    return InvalidArgument("{}: is {}, expected a regular file", path, what);
  }
  return fd;
}

}  // namespace

StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  struct stat st {};
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, &st));
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ == 0) {
    ::close(fd);
    return f;  // empty file: data() == nullptr, size() == 0
  }
  void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;  // before close() can change it
  ::close(fd);
  if (p == MAP_FAILED) return IoError("{}: mmap failed: {}", path, std::strerror(mmap_errno));
  f.data_ = static_cast<const uint8_t*>(p);
  f.mmapped_ = true;
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Reset();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    mmapped_ = other.mmapped_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mmapped_ = false;
  }
  return *this;
}

MappedFile::~MappedFile() { Reset(); }

void MappedFile::Reset() {
  if (mmapped_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  mmapped_ = false;
}

void MappedFile::DropPages() const {
  if (mmapped_ && data_ != nullptr) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_DONTNEED);
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  struct stat st {};
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, &st));
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return IoError("{}: read error: {}", path, std::strerror(e));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

Status WriteStringToFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("{}: cannot open for writing", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return IoError("{}: write failed", path);
  return Status::Ok();
}

Status RenameIntoPlace(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return IoError("{}: cannot rename {} into place: {}", path, tmp, ec.message());
  }
  return Status::Ok();
}

}  // namespace seedtune
