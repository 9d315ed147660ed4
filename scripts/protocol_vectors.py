#!/usr/bin/env python3
"""docs/protocol.md's round vectors, computed from the page's definitions alone.

An implementation independent of the C++ code (written from docs/protocol.md
and docs/rng.md, standard library only): the seed
derivation, the DeComFL round's sample and update list, Rademacher z from
Philox4x32-10, the update rule and the fingerprint. tests/zo/protocol_test.cc
checks the same numbers against the code; `python3 scripts/protocol_vectors.py`
prints them.
"""
import struct

M64 = (1 << 64) - 1


def f32(x):
    """x rounded to float32 (a float32 +, *, / computed in double and rounded
    once is the correctly rounded float32 result: 53 >= 2 * 24 + 2 bits)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def step_seed(run, step, k=0):
    return splitmix64(splitmix64(splitmix64(run) ^ step) ^ k)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


class PortableRng:
    def __init__(self, seed):
        x, self.s = seed, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n


def seeded_permutation(n, seed):
    p, rng = list(range(n)), PortableRng(seed)
    for i in range(n, 1, -1):
        j = rng.below(i)
        p[i - 1], p[j] = p[j], p[i - 1]
    return p


M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c, k = list(ctr), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k[0]) & M32, p1 & M32, ((p0 >> 32) ^ c[3] ^ k[1]) & M32, p0 & M32]
        k = [(k[0] + 0x9E3779B9) & M32, (k[1] + 0xBB67AE85) & M32]
    return c


def rademacher(seed, n):
    """z_i for i < n: -1 where element i's Philox word has its top bit set."""
    key = (seed & M32, seed >> 32)
    z = [0.0] * n
    for i in range(n):
        b = (i // 64) * 16 + (i % 16)
        w = (i % 64) // 16
        word = philox4x32_10((b & M32, b >> 32, 0, 0), key)[w]
        z[i] = -1.0 if word >> 31 else 1.0
    return z


P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9


def mix(h):
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def hash_bytes(data, seed=0):
    h = [seed ^ P1, seed ^ P2, seed ^ P3, (seed + P1) & M64]
    i, n = 0, len(data)
    while i + 32 <= n:
        for lane in range(4):
            (word,) = struct.unpack_from("<Q", data, i + 8 * lane)
            h[lane] = rotl(((h[lane] ^ word) * P1) & M64, 29)
        i += 32
    acc = (n * P3) & M64
    for lane in range(4):
        acc = mix(acc ^ h[lane])
    while i + 8 <= n:
        (word,) = struct.unpack_from("<Q", data, i)
        acc = mix(acc ^ word)
        i += 8
    while i < n:
        acc = mix(acc ^ data[i])
        i += 1
    return acc


def fingerprint(theta):
    chunk = 1 << 20
    acc = len(theta)
    for c in range(0, len(theta), chunk):
        part = theta[c:c + chunk]
        acc = mix(acc ^ hash_bytes(struct.pack(f"<{len(part)}f", *part)))
    return acc


def decomfl_direction_seed(run, t, k, j):
    return step_seed(step_seed(run, t, 0xDEC0), k, j)


def main():
    run = 42
    print("DeComFL direction seeds, round 1: (k, j) = (0, 0), (0, 1), (1, 0):",
          " ".join(f"0x{decomfl_direction_seed(run, 1, k, j):016x}" for k, j in ((0, 0), (0, 1), (1, 0))))
    sample = sorted(seeded_permutation(6, step_seed(run, 1, 0xDEC1))[:2])
    print("DeComFL round-1 sample, m = 2 of 6 clients:", sample)

    # Round 1 of DeComFL, K = 1, P = 2, lr = 1e-3: the two sampled clients'
    # replies; the mean in double over client-id order, rounded to f32; alpha_j
    # = f32(f32(-lr * mean_j) / P).
    replies = {sample[0]: [1.5, -2.0], sample[1]: [0.25, 4.0]}
    lr, p = f32(1e-3), 2
    updates = []
    for j in range(p):
        mean = f32(sum(f32(replies[c][j]) for c in sorted(replies)) / len(replies))
        alpha = f32(f32(-lr * mean) / p)
        updates.append((decomfl_direction_seed(run, 1, 0, j), alpha))
    for seed, alpha in updates:
        bits = struct.unpack("<I", struct.pack("<f", alpha))[0]
        print(f"  update: seed 0x{seed:016x}, alpha {alpha!r} (f32 bits 0x{bits:08x})")

    # The canonical vector theta_i = (i mod 1024) * 2^-10 of n floats, after the
    # list with Rademacher z and decay 1: theta_i = fl(theta_i + alpha z_i).
    n = 74688  # tests/support TinyConfig(llama): its parameter count
    theta = [(i % 1024) * 2.0 ** -10 for i in range(n)]
    print(f"fingerprint before (n = {n}): {fingerprint(theta):016x}")
    for seed, alpha in updates:
        theta = [f32(t + alpha * z) for t, z in zip(theta, rademacher(seed, n))]
    print(f"fingerprint after the round: {fingerprint(theta):016x}")


if __name__ == "__main__":
    main()
