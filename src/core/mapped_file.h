// Read-only memory mapping of a whole file (falls back to reading into memory
// when mmap is not possible, e.g. for pipes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace seedtune {

class MappedFile {
 public:
  static StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the kernel the pages are no longer needed (keeps the mapping valid).
  void DropPages() const;

 private:
  void Reset();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mmapped_ = false;
};

// Reads a whole (small) file into a string.
StatusOr<std::string> ReadFileToString(const std::string& path);
// Writes `bytes` to `path` (truncating).
Status WriteStringToFile(const std::string& path, const std::string& bytes);

// Renames a fully written temporary file over `path` (atomic on POSIX), or
// removes it and reports why not. Writers write to `path + ".tmp"` first so
// a crash never leaves a half-written file under the final name.
Status RenameIntoPlace(const std::string& tmp, const std::string& path);

}  // namespace seedtune
