// Helpers shared by the libFuzzer targets in fuzz/ (header-only, so each
// target stays one .cc file): a CHECK that names the failed property, and a
// per-process scratch directory for readers that only take a path.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

// Aborts (a libFuzzer crash) when a property of an accepted or rejected input
// does not hold, naming it: the fuzzer then saves the input as crash-*.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// Like FUZZ_CHECK, printing a message (e.g. a Status) as well.
#define FUZZ_CHECK_MSG(cond, msg)                                                                      \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s: %s\n", __FILE__, __LINE__, #cond,          \
                   std::string(msg).c_str());                                                          \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)

namespace seedtune::fuzz {

// A scratch directory, created on first use and removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/seedtune-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string keep = templ;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return templ;
  }();
  return dir;
}

// Writes `size` bytes to ScratchDir()/name (replacing it) and returns the path.
inline std::string WriteScratch(const std::string& name, const void* data, size_t size) {
  const std::string path = ScratchDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}
inline std::string WriteScratch(const std::string& name, const std::string& bytes) {
  return WriteScratch(name, bytes.data(), bytes.size());
}

// Bitwise float equality, except that any NaN equals any NaN (conversions
// through other precisions may quiet a signalling NaN).
inline bool SameFloat(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}
inline bool SameFloat(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace seedtune::fuzz
