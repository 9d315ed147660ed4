// CHECK: for the project's own invariants only (never for outside input).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SEEDTUNE_CHECK(cond)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

#define SEEDTUNE_CHECK_MSG(cond, msg)                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s (%s)\n", __FILE__, __LINE__, #cond, msg); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)
