// Tensor-core flash attention, FlashAttention-2 style (mma.sync m16n8k16, ldmatrix, cp.async),
// dense and block-sparse, bf16/f16, D = Dv ∈ {64, 128}; sm_80+ (empty bodies below).
//
// td_fa2_<t>_d<D>          dense softmax(q·kᵀ·scale)·v, 128 query rows per thread block.
// td_fa2_sparse_<t>_d<D>_q<R> SLA's sparse branch: one thread block per (query block of R ∈ {64, 128}
//                          rows, head) visits only the listed key blocks (blockK a multiple of 64).
//
// Thread block: 4 warps. Warp w owns query rows 16·MT·w … 16·MT·w + 16·MT − 1 of the block's
// tile (MT = 2 for 128 rows, 1 for 64): MT m-tiles of 16 rows, so every K/V fragment read from
// shared memory feeds MT mma. Keys are visited in tiles of 64; a tile is given by a key range
// [k0, kend): rows at or past kend are zero filled and their scores masked to -inf, so a partial
// tile, or one with nothing valid (kend ≤ k0), is exact (p = 0, V rows 0, never NaN).
//
// Shared memory (u16 elements, row stride LD = D + 8: the 16-byte pad puts the 8 rows of every
// ldmatrix 8×8 matrix on distinct bank quads, so ldmatrix and the 16-byte cp.async stores are
// conflict free): Q [64·MT][LD], K [2][64][LD], V [2][64][LD] (double buffered).
//
// Pipeline (cp.async groups in commit order: Q, K0, V0, then per tile i: K(i+1), V(i+1), empty
// when there is no next tile, so the counts never change). Tile i:
//   wait<1> (Q, K(i) landed) → sync (all warps left tile i−1, whose buffers are (i+1)&1) →
//   issue K(i+1), V(i+1) into buffers (i+1)&1 → S = Q·K(i)ᵀ → online softmax →
//   wait<2> (V(i) landed) → sync → O += P·V(i).
//
// Fragments of mma.m16n8k16 (lane = 4g + t, g = lane>>2, t = lane&3; two 16-bit elements per
// register, lower index in the low half):
//   A 16×16: a0 (row g, k 2t..2t+1) a1 (row g+8, k 2t..) a2 (row g, k 2t+8..) a3 (row g+8, k 2t+8..)
//   B 16×8:  b0 (k 2t..2t+1, col g)  b1 (k 2t+8..2t+9, col g)
//   C 16×8:  c0,c1 (row g, cols 2t, 2t+1)  c2,c3 (row g+8, cols 2t, 2t+1)
// ldmatrix.x4: lanes 8i..8i+7 give the row addresses of 8×8 matrix i; register i of every lane
// receives matrix i with lane l holding (row l/4, cols 2(l%4), +1) — with .trans, (rows 2(l%4),
// +1; col l/4). Hence:
//   Q (A, row-major [row][d]):  matrix i = rows 8(i&1).., cols 8(i>>1)..       → a0..a3.
//   K (B = Kᵀ, K row-major [key][d]): matrix i = keys 8(i>>1).., d 8(i&1)..    → b0,b1 of key
//     tile 2j (i = 0, 1) and 2j+1 (i = 2, 3).
//   V (B, row-major [key][col], .trans): matrix i = keys 8(i&1).., cols 8(i>>1).. → b0,b1 of
//     column tile 2n (i = 0, 1) and 2n+1 (i = 2, 3).
//   P (A) comes from S's accumulators without moving: the C layout of key tiles 2kk, 2kk+1 is the
//     A layout of keys 16kk..16kk+15.
// Softmax in the log2 domain with the scale folded in: p = 2^(s·c − m), c = scale·log2(e) > 0
// (the host sends only positive scales), m the running max of s·c. P is rounded to the input
// type only as the mma operand; the running sums use the fp32 p.

#define FA2_KEYS 64
#define FA2_THREADS 128
#ifndef FA2_SUB_WIDE
// Keys per softmax step at D = 128: 64 measured fastest on an H200 (326 TFLOP/s at 32k tokens vs
// 319 for 32 and 264 for 16, scripts/cuda/bench_attention.py) although ptxas spills a few dozen
// bytes to L1 there; 16 is spill-free.
#define FA2_SUB_WIDE 64
#endif

extern __shared__ __attribute__((aligned(16))) unsigned char fa2_smem[];

// ---- primitives (scripts/cuda/flash_attention_emulator.cpp substitutes its own for these)

// Shared-space address (32-bit) of the dynamic shared memory; every shared access below takes
// such an address (base + byte offset).
__device__ __forceinline__ u32 fa2_smem_base() {
    u32 a;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(fa2_smem));
    return a;
}

// 16-byte copy global → shared bypassing L1; src_bytes = 0 stores 16 zero bytes and reads nothing.
__device__ __forceinline__ void fa2_cp_async16(u32 dst, const void* src, u32 src_bytes) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
#endif
}

__device__ __forceinline__ void fa2_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed groups are pending.
template <int N>
__device__ __forceinline__ void fa2_wait() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// Four 8×8 b16 matrices; `row` is this lane's row address (see the header).
__device__ __forceinline__ void fa2_ldmatrix(u32* r, u32 row) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(row)
                 : "memory");
#endif
}

__device__ __forceinline__ void fa2_ldmatrix_trans(u32* r, u32 row) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(row)
                 : "memory");
#endif
}

// c += a·b for one m16n8k16 tile, fp32 accumulation.
template <bool BF16>
__device__ __forceinline__ void fa2_mma(float* c, const u32* a, u32 b0, u32 b1) {
#if __CUDA_ARCH__ >= 800
    if constexpr (BF16) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
#endif
}

// 2^x (ex2.approx.ftz: 2^-inf = +0, relative error ~2^-22).
__device__ __forceinline__ float fa2_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// ---- end primitives

// Two floats rounded to bf16/f16 (nearest even) in one register: lo in bits 0–15, hi in 16–31.
template <bool BF16>
__device__ __forceinline__ u32 fa2_pack(float lo, float hi) {
    const u32 l = BF16 ? float_to_bf16(lo) : float_to_half(lo);
    const u32 h = BF16 ? float_to_bf16(hi) : float_to_half(hi);
    return l | (h << 16);
}

// Stages rows [r0, r0+ROWS) of a row view with D contiguous elements per row (row stride sl) into
// a shared tile of row stride D+8; rows at or past `end` are zero filled without reading. Needs
// `src` and every row start 16-byte aligned (the host checks).
// `tile` is a shared address; thread x copies column chunk x % (D/8) of rows x / (D/8) + i·STEP.
template <int D, int ROWS>
__device__ __forceinline__ void fa2_load(u32 tile, const u16* src, int r0, int end, i64 sl) {
    constexpr int LD = D + 8, CHUNKS = D / 8, STEP = FA2_THREADS / CHUNKS;
    static_assert(ROWS % STEP == 0, "whole chunks per thread");
    const int row0 = threadIdx.x / CHUNKS, col = (threadIdx.x % CHUNKS) * 8;
    const u16* p = src + (i64)(r0 + row0) * sl + col;
#pragma unroll
    for (int i = 0; i < ROWS / STEP; ++i) {
        const int row = row0 + i * STEP;
        const bool inside = r0 + row < end;
        fa2_cp_async16(tile + (u32)(row * LD + col) * 2, inside ? p + (i64)i * STEP * sl : src, inside ? 16u : 0u);
    }
}

// Key range of dense tile `i`.
struct Fa2DenseTiles {
    int lk;
    __device__ __forceinline__ void operator()(int i, int& k0, int& kend) const {
        k0 = i * FA2_KEYS;
        kend = lk;
    }
};

// Key range of sparse tile `i`: tile i % per of the block list[i / per] (per = blockK / 64). An
// index outside 0..<mk gives an empty range (the tile contributes nothing).
struct Fa2SparseTiles {
    const int* list;
    int lk, block_k, per, mk;
    __device__ __forceinline__ void operator()(int i, int& k0, int& kend) const {
        const int blk = list[i / per];
        if (blk < 0 || blk >= mk) {
            k0 = 0;
            kend = 0;
            return;
        }
        const int start = blk * block_k;
        k0 = start + (i % per) * FA2_KEYS;
        kend = min(lk, start + block_k);
    }
};

// One thread block: query rows [q0, q0 + 64·MT) of one head, over `ntiles` key tiles. qb/kb/vb
// point at token 0 of the head (row strides qsl/ksl/vsl, D contiguous); ob at the output head
// ([Lq, D] rows of stride osl). Rows at or past lq are computed on zeros and never stored. A row
// whose scores are all -inf (or that sees no valid key) has sum 0 and becomes NaN, as on the CPU.
template <bool BF16, int D, int MT, class Tiles>
__device__ __forceinline__ void fa2_attention(u16* ob, i64 osl, const u16* qb, i64 qsl, const u16* kb, i64 ksl,
                                              const u16* vb, i64 vsl, int q0, int lq, int ntiles, Tiles tiles,
                                              float scale_log2) {
    constexpr int LD = D + 8, ROWS = 64 * MT, KSTEPS = D / 16, NT = D / 8;
    // Keys per softmax step: FA2_SUB_WIDE at D = 128 with two m-tiles (O alone takes 128
    // registers there; ptxas spills with 32 or 64), else the whole tile.
    constexpr int SUB = D * MT > 128 ? FA2_SUB_WIDE : 64, HALVES = FA2_KEYS / SUB, ST = SUB / 8;
    constexpr int TILE = FA2_KEYS * LD;
    const float neg_inf = -__int_as_float(0x7f800000);

    // Shared addresses (bytes) of the Q tile and the K and V double buffers.
    const u32 qs = fa2_smem_base(), ks = qs + ROWS * LD * 2, vs = ks + 2 * TILE * 2;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    // This lane's ldmatrix row addresses (see the header), relative to the m-tile / key tile.
    const int lrow = lane & 7, sel_lo = (lane >> 3) & 1, sel_hi = lane >> 4;
    const u32 q_lane = qs + (u32)((warp * 16 * MT + lrow + 8 * sel_lo) * LD + 8 * sel_hi) * 2;
    const u32 k_lane = (u32)((lrow + 8 * sel_hi) * LD + 8 * sel_lo) * 2;
    const u32 v_lane = (u32)((lrow + 8 * sel_lo) * LD + 8 * sel_hi) * 2;

    int k0 = 0, kend = 0, next0 = 0, nextend = 0;
    fa2_load<D, ROWS>(qs, qb, q0, lq, qsl);
    fa2_commit(); // Q
    if (ntiles > 0) {
        tiles(0, next0, nextend);
        fa2_load<D, FA2_KEYS>(ks, kb, next0, nextend, ksl);
    }
    fa2_commit(); // K0
    if (ntiles > 0) fa2_load<D, FA2_KEYS>(vs, vb, next0, nextend, vsl);
    fa2_commit(); // V0

    float o[MT][NT][4];
#pragma unroll
    for (int mi = 0; mi < MT; ++mi)
#pragma unroll
        for (int n = 0; n < NT; ++n) o[mi][n][0] = o[mi][n][1] = o[mi][n][2] = o[mi][n][3] = 0.0f;
    // Per m-tile and owned row (0: row g, 1: row g+8): running max of s·c and this thread's share
    // of the running sum.
    float row_max[MT][2], row_sum[MT][2];
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) row_max[mi][0] = row_max[mi][1] = neg_inf, row_sum[mi][0] = row_sum[mi][1] = 0.0f;

    for (int it = 0; it < ntiles; ++it) {
        k0 = next0;
        kend = nextend;
        const u32 kt = ks + (it & 1) * TILE * 2 + k_lane;
        const u32 vt = vs + (it & 1) * TILE * 2 + v_lane;
        fa2_wait<1>(); // Q and K(it) landed (V(it) may be in flight)
        __syncthreads();
        if (it + 1 < ntiles) {
            tiles(it + 1, next0, nextend);
            fa2_load<D, FA2_KEYS>(ks + ((it + 1) & 1) * TILE * 2, kb, next0, nextend, ksl);
        }
        fa2_commit(); // K(it+1)
        if (it + 1 < ntiles) fa2_load<D, FA2_KEYS>(vs + ((it + 1) & 1) * TILE * 2, vb, next0, nextend, vsl);
        fa2_commit(); // V(it+1)
        const int valid = kend - k0; // keys of this tile before kend (≤ 0: none)

        // The tile in HALVES steps of SUB keys, each with its own softmax update (keeps S and P of
        // one step in registers beside O).
#pragma unroll
        for (int half = 0; half < HALVES; ++half) {
            // S = Q·Kᵀ: s[mi][j] is the 16×8 tile of m-tile mi and keys k0 + SUB·half + 8j .. +7.
            float s[MT][ST][4];
#pragma unroll
            for (int mi = 0; mi < MT; ++mi)
#pragma unroll
                for (int j = 0; j < ST; ++j) s[mi][j][0] = s[mi][j][1] = s[mi][j][2] = s[mi][j][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < KSTEPS; ++kk) {
                u32 qa[MT][4];
#pragma unroll
                for (int mi = 0; mi < MT; ++mi) fa2_ldmatrix(qa[mi], q_lane + (mi * 16 * LD + 16 * kk) * 2);
#pragma unroll
                for (int jp = 0; jp < ST / 2; ++jp) {
                    u32 kf[4];
                    fa2_ldmatrix(kf, kt + ((SUB * half + 16 * jp) * LD + 16 * kk) * 2);
#pragma unroll
                    for (int mi = 0; mi < MT; ++mi) {
                        fa2_mma<BF16>(s[mi][2 * jp], qa[mi], kf[0], kf[1]);
                        fa2_mma<BF16>(s[mi][2 * jp + 1], qa[mi], kf[2], kf[3]);
                    }
                }
            }

            // Mask keys at or past kend (only in a partial or empty tile). s[mi][j][e]: row g (e < 2)
            // or g+8, key k0 + SUB·half + 8j + 2t + (e & 1).
            if (valid < FA2_KEYS) {
#pragma unroll
                for (int mi = 0; mi < MT; ++mi)
#pragma unroll
                    for (int j = 0; j < ST; ++j)
#pragma unroll
                        for (int e = 0; e < 4; ++e)
                            if (SUB * half + 8 * j + 2 * t + (e & 1) >= valid) s[mi][j][e] = neg_inf;
            }

            // Online softmax; P goes straight into the A fragments of P·V (pa[mi][kk]: keys 16kk..).
            u32 pa[MT][SUB / 16][4];
#pragma unroll
            for (int mi = 0; mi < MT; ++mi) {
                float base[2], correction[2];
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    float m = neg_inf;
#pragma unroll
                    for (int j = 0; j < ST; ++j) m = fmaxf(m, fmaxf(s[mi][j][2 * h], s[mi][j][2 * h + 1]));
                    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
                    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
                    const float next = fmaxf(row_max[mi][h], m * scale_log2);
                    // Nothing but -inf so far: subtract 0 so that p = 0 rather than NaN.
                    base[h] = next == neg_inf ? 0.0f : next;
                    correction[h] = fa2_exp2(row_max[mi][h] - base[h]); // 0 while row_max is -inf
                    row_max[mi][h] = next;
                    row_sum[mi][h] *= correction[h];
                }
                // Rescale O only when some row of the warp's m-tile got a new maximum (a warp-uniform
                // branch; rare once the first tiles have set the maxima).
                if (__any_sync(0xffffffffu, correction[0] != 1.0f || correction[1] != 1.0f)) {
#pragma unroll
                    for (int n = 0; n < NT; ++n) {
                        o[mi][n][0] *= correction[0];
                        o[mi][n][1] *= correction[0];
                        o[mi][n][2] *= correction[1];
                        o[mi][n][3] *= correction[1];
                    }
                }
#pragma unroll
                for (int j = 0; j < ST; ++j) {
                    float p[4];
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        p[e] = fa2_exp2(fmaf(s[mi][j][e], scale_log2, -base[e >> 1]));
                        row_sum[mi][e >> 1] += p[e];
                    }
                    // Registers 0,1 of pa[mi][kk] from key tile 2kk, 2,3 from 2kk+1.
                    pa[mi][j >> 1][2 * (j & 1)] = fa2_pack<BF16>(p[0], p[1]);
                    pa[mi][j >> 1][2 * (j & 1) + 1] = fa2_pack<BF16>(p[2], p[3]);
                }
            }

            if (half == 0) {
                fa2_wait<2>(); // V(it) landed (K(it+1), V(it+1) may be in flight)
                __syncthreads();
            }
            // O += P·V, 16 keys per k-step.
#pragma unroll
            for (int kk = 0; kk < SUB / 16; ++kk) {
#pragma unroll
                for (int np = 0; np < NT / 2; ++np) {
                    u32 vf[4];
                    fa2_ldmatrix_trans(vf, vt + ((SUB * half + 16 * kk) * LD + 16 * np) * 2);
#pragma unroll
                    for (int mi = 0; mi < MT; ++mi) {
                        fa2_mma<BF16>(o[mi][2 * np], pa[mi][kk], vf[0], vf[1]);
                        fa2_mma<BF16>(o[mi][2 * np + 1], pa[mi][kk], vf[2], vf[3]);
                    }
                }
            }
        }
    }
    fa2_wait<0>();

    // Normalise and store the rows inside Lq.
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) {
        float inv[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = row_sum[mi][h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            inv[h] = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
        }
        const int row_lo = q0 + warp * 16 * MT + mi * 16 + g, row_hi = row_lo + 8;
#pragma unroll
        for (int n = 0; n < NT; ++n) {
            const int col = 8 * n + 2 * t;
            if (row_lo < lq) *(u32*)(ob + (i64)row_lo * osl + col) = fa2_pack<BF16>(o[mi][n][0] * inv[0], o[mi][n][1] * inv[0]);
            if (row_hi < lq) *(u32*)(ob + (i64)row_hi * osl + col) = fa2_pack<BF16>(o[mi][n][2] * inv[1], o[mi][n][3] * inv[1]);
        }
    }
}

// Dense: grid (⌈Lq/128⌉, H, B). out, q, k, v point at element (0,0,0,0) of their [B, H, L, D]
// views; s*b, s*h, s*l are element strides of the b, h and l dims (d contiguous).
template <bool BF16, int D>
__device__ __forceinline__ void fa2_dense(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk,
                                          float scale_log2, i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl,
                                          i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {
    const i64 h = blockIdx.y, b = blockIdx.z;
    const int ntiles = (int)((lk + FA2_KEYS - 1) / FA2_KEYS);
    fa2_attention<BF16, D, 2>(out + b * osb + h * osh, osl, q + b * qsb + h * qsh, qsl, k + b * ksb + h * ksh, ksl,
                              v + b * vsb + h * vsh, vsl, (int)blockIdx.x * 128, (int)lq, ntiles, Fa2DenseTiles{(int)lk},
                              scale_log2);
}

// Sparse: grid (mq, H, B), one query block of 64·MT rows each; blocks is the dense i32 table
// [B, H, mq, keep]; block_k is a multiple of 64.
template <bool BF16, int D, int MT>
__device__ __forceinline__ void fa2_sparse(u16* out, const u16* q, const u16* k, const u16* v, const int* blocks,
                                           i64 lq, i64 lk, int block_k, int keep, int mq, int mk, float scale_log2,
                                           i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl, i64 vsb, i64 vsh,
                                           i64 vsl, i64 osb, i64 osh, i64 osl) {
    const i64 qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int per = block_k / FA2_KEYS;
    const Fa2SparseTiles tiles{blocks + ((b * gridDim.y + h) * mq + qb) * keep, (int)lk, block_k, per, mk};
    fa2_attention<BF16, D, MT>(out + b * osb + h * osh, osl, q + b * qsb + h * qsh, qsl, k + b * ksb + h * ksh, ksl,
                               v + b * vsb + h * vsh, vsl, (int)qb * 64 * MT, (int)lq, keep * per, tiles, scale_log2);
}

// Entry points. 128 threads; dynamic shared memory (64·MT + 4·64)·(D+8)·2 bytes (MT = 2 dense).
#if __CUDA_ARCH__ >= 800
#define FA2_ON(...) __VA_ARGS__;
#else
#define FA2_ON(...)
#endif

#define FA2_DENSE(NAME, BF16, D)                                                                                     \
    extern "C" __global__ void __launch_bounds__(FA2_THREADS, 2)                                                     \
        NAME(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk, float scale_log2, i64 qsb, i64 qsh,  \
             i64 qsl, i64 ksb, i64 ksh, i64 ksl, i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {              \
        FA2_ON(fa2_dense<BF16, D>(out, q, k, v, lq, lk, scale_log2, qsb, qsh, qsl, ksb, ksh, ksl, vsb, vsh, vsl, osb, \
                                  osh, osl))                                                                         \
    }

#define FA2_SPARSE(NAME, BF16, D, MT)                                                                                \
    extern "C" __global__ void __launch_bounds__(FA2_THREADS, 2)                                                     \
        NAME(u16* out, const u16* q, const u16* k, const u16* v, const int* blocks, i64 lq, i64 lk, int block_k,      \
             int keep, int mq, int mk, float scale_log2, i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl,        \
             i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {                                                 \
        FA2_ON(fa2_sparse<BF16, D, MT>(out, q, k, v, blocks, lq, lk, block_k, keep, mq, mk, scale_log2, qsb, qsh, qsl,\
                                       ksb, ksh, ksl, vsb, vsh, vsl, osb, osh, osl))                                 \
    }

FA2_DENSE(td_fa2_bf16_d64, true, 64)
FA2_DENSE(td_fa2_bf16_d128, true, 128)
FA2_DENSE(td_fa2_f16_d64, false, 64)
FA2_DENSE(td_fa2_f16_d128, false, 128)
FA2_SPARSE(td_fa2_sparse_bf16_d64_q64, true, 64, 1)
FA2_SPARSE(td_fa2_sparse_bf16_d64_q128, true, 64, 2)
FA2_SPARSE(td_fa2_sparse_bf16_d128_q64, true, 128, 1)
FA2_SPARSE(td_fa2_sparse_bf16_d128_q128, true, 128, 2)
FA2_SPARSE(td_fa2_sparse_f16_d64_q64, false, 64, 1)
FA2_SPARSE(td_fa2_sparse_f16_d64_q128, false, 64, 2)
FA2_SPARSE(td_fa2_sparse_f16_d128_q64, false, 128, 1)
FA2_SPARSE(td_fa2_sparse_f16_d128_q128, false, 128, 2)
