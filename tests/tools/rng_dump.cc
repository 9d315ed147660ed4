// Prints z values for a few (seed, offset, count) cases, one float bit
// pattern per line in hex. Built twice by tests/CMakeLists.txt: at -O0 here
// and inside the -O3 library, so a test can compare the two builds bit for bit.
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/random.h"

int main() {
  struct Case {
    uint64_t seed, first;
    int64_t n;
  };
  const Case cases[] = {{0, 0, 256}, {42, 1000003, 333}, {0xdeadbeefcafef00dull, (1ull << 40) + 17, 200}};
  for (const auto& c : cases) {
    for (auto dist : {seedtune::ZDistribution::kGaussian, seedtune::ZDistribution::kRademacher}) {
      std::vector<float> z(static_cast<size_t>(c.n));
      seedtune::GenerateZ(c.seed, c.first, c.n, dist, z.data());
      for (float v : z) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        std::printf("%08x\n", u);
      }
    }
  }
  return 0;
}
