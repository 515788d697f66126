"""The engine's seeded noise (Sources/TensorCore/Philox.swift) in NumPy, so Python can start from exactly
the ε the engine draws for `--seed`: Philox4x32-10, counter (n, stream), key = seed; element e of a
stream comes from block e // 4, two Box–Muller pairs per block, uniforms (w + 0.5) / 2^32, in float64
rounded to float32. Stream 0 is the initial latent noise, stream i + 1 the noise after step i.
"""
import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)


def blocks(n, stream, seed):
    """Philox4x32-10 of counters (n, stream) under key seed. n: uint64 array -> four uint32 arrays."""
    n = np.asarray(n, dtype=np.uint64)
    c0, c1 = n & MASK, n >> np.uint64(32)
    c2 = np.full_like(n, stream & 0xFFFFFFFF)
    c3 = np.full_like(n, stream >> 32)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & MASK,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & MASK)
    return c0, c1, c2, c3


def normals(seed, stream, count, offset=0):
    """`count` standard normals from element `offset` of the stream -> float32 [count]."""
    first, last = offset // 4, (offset + count + 3) // 4
    a, b, c, d = blocks(np.arange(first, last, dtype=np.uint64), stream, seed)
    unit = lambda w: (w.astype(np.float64) + 0.5) / 4294967296.0  # noqa: E731
    out = []
    for u, v in ((a, b), (c, d)):
        r = np.sqrt(-2 * np.log(unit(u)))
        th = 2 * np.pi * unit(v)
        out += [r * np.cos(th), r * np.sin(th)]
    z = np.stack(out, 1).reshape(-1).astype(np.float32)      # block order, 4 per block
    s = offset - 4 * first
    return z[s:s + count]


if __name__ == "__main__":
    z = blocks(np.array([0], dtype=np.uint64), 0, 0)
    assert [int(w[0]) for w in z] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], z
    print(normals(42, 3, 6).tolist())
