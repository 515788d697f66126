// Dense attention: softmax(q·kᵀ·scale + bias)·v.
//
// td_attn_softmax       the composed path's middle step (scores come from cuBLASLt): scale,
//                       bias and a row softmax of fp32 scores, into P (fp32 in place, or bf16/f16).
// td_flash_attn_<t>_d<D> fused flash attention for bf16/f16 with D = Dv ∈ {64, 128}, no bias:
//                       online softmax, tensor cores (mma.m16n8k16), no Lq×Lk matrix.

// ---------------------------------------------------------------------------------------------
// Composed path

// On dense fp32 scores s [rows, cols]: x = s·scale (+ bias), then softmax over each row in fp32,
// written to p [rows, cols] of type p_dt (p may be s with p_dt fp32: in place; s is scratch either
// way). Chunk row r is query row `row0 + r % rows_per_head` of flat head
// `head0 + r / rows_per_head` (flat head = b·heads + h). The bias (absent when bias == 0) is
// addressed through its strides as a [B, H, Lq, Lk] view (stride 0 on broadcast dims). A row whose
// scores are all -inf has no distribution and becomes NaN, as on the CPU. One block per row
// (grid-stride over rows); each thread revisits the same columns in every pass, so the in-place
// write of pass 1 is read back by the thread that wrote it.
extern "C" __global__ void td_attn_softmax(float* s, void* p, int p_dt, i64 rows, i64 cols, float scale,
                                           const void* bias, int bias_dt, i64 sb0, i64 sb1, i64 sb2, i64 sb3,
                                           i64 heads, i64 rows_per_head, i64 head0, i64 row0) {
    __shared__ float scratch[32];
    const float neg_inf = -__int_as_float(0x7f800000);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float* row = s + r * cols;
        const i64 out0 = r * cols;
        i64 brow = 0;
        if (bias) {
            const i64 head = head0 + r / rows_per_head, i = row0 + r % rows_per_head;
            brow = (head / heads) * sb0 + (head % heads) * sb1 + i * sb2;
        }
        float m = neg_inf;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            float x = row[j] * scale;
            if (bias) x += load_float(bias, brow + j * sb3, bias_dt);
            row[j] = x;
            m = fmaxf(m, x);
        }
        m = block_max(m, scratch);
        if (m == neg_inf) {
            const float nan = __int_as_float(0x7fc00000);
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) store_float(p, out0 + j, p_dt, nan);
        } else {
            float sum = 0.0f;
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(row[j] - m);
            sum = block_sum(sum, scratch);
            const float inv = 1.0f / sum;
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) store_float(p, out0 + j, p_dt, expf(row[j] - m) * inv);
        }
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------------
// Fused flash attention (sm_80+: bf16 mma and cp.async)
//
// Block: 4 warps, 64 query rows (warp w owns rows 16w..16w+15 of the block's tile); grid
// (⌈Lq/64⌉, H, B). Keys are visited in tiles of 64. Shared memory holds the Q, K and V tiles
// (64 rows each, row stride D+8 elements: the 16-byte pad makes every fragment load below
// bank-conflict free). Q fragments stay in registers for the whole loop.
//
// Pipeline (cp.async groups, committed in this order: Q, K0, V0, then per tile K(i+1), V(i+1),
// empty groups when there is no next tile so the counting never changes):
//   wait K(i) → S = Q·K(i)ᵀ → sync → prefetch K(i+1) into the K buffer → online softmax →
//   wait V(i) → O += P·V(i) → sync → prefetch V(i+1) into the V buffer.
//
// mma.m16n8k16 fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16" with .bf16/.f16),
// lane = 4·g + t (g = groupID = lane>>2, t = threadID_in_group = lane&3); every .b32 register
// holds two 16-bit elements, the lower column/row index in the low half:
//   A (16×16, row major)  a0: (row g,   cols 2t,2t+1)    a1: (row g+8, cols 2t,2t+1)
//                         a2: (row g,   cols 2t+8,2t+9)  a3: (row g+8, cols 2t+8,2t+9)
//   B (16×8, k × n)       b0: (k 2t,2t+1,   col g)       b1: (k 2t+8,2t+9, col g)
//   C/D (16×8, fp32)      c0,c1: (row g, cols 2t,2t+1)   c2,c3: (row g+8, cols 2t,2t+1)
// S = Q·Kᵀ:  A = Q[16 rows, 16 of D], B[k = d][n = key] = K[key][d]: b0 is the K row `key` at
//            columns d = 2t,2t+1 — one 32-bit load from the row-major K tile.
// O += P·V:  A = P[16 rows, 16 keys] is built from S's accumulators without shuffles: the
//            C layout of key tiles 2kk and 2kk+1 is exactly the A layout of keys 16kk..16kk+15
//            (a0 = S[2kk].c0,c1; a1 = S[2kk].c2,c3; a2 = S[2kk+1].c0,c1; a3 = S[2kk+1].c2,c3).
//            B[k = key][n = col] = V[key][col]: two 16-bit loads (rows 2t, 2t+1 of the V tile).
// Each thread owns two query rows (g and g+8 of its warp's 16); their maxima and sums are
// reduced over the 4 threads of the group (shuffles with lane masks 1 and 2).
// Softmax runs in the log2 domain: x = s·scale·log2(e), p = 2^(x − max). P is rounded to the
// input type only as the mma operand; the running sum uses the fp32 p.

#define FA_ROWS 64
#define FA_KEYS 64
#define FA_THREADS 128

extern __shared__ __attribute__((aligned(16))) unsigned char fa_smem[];

// 32-bit shared-space address of a generic pointer into shared memory.
__device__ __forceinline__ u32 shared_address(const void* p) {
    u32 a;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 16-byte copy global → shared that bypasses L1; src_bytes = 0 stores 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, u32 src_bytes) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)), "l"(src), "r"(src_bytes)
                 : "memory");
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// c += a·b for one m16n8k16 tile, fp32 accumulation.
template <bool BF16>
__device__ __forceinline__ void mma_16816(float* c, const u32* a, u32 b0, u32 b1) {
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

// Two floats rounded to bf16/f16 (nearest even) in one register: lo in bits 0–15, hi in 16–31.
template <bool BF16>
__device__ __forceinline__ u32 pack_pair(float lo, float hi) {
    const u32 l = BF16 ? float_to_bf16(lo) : float_to_half(lo);
    const u32 h = BF16 ? float_to_bf16(hi) : float_to_half(hi);
    return l | (h << 16);
}

__device__ __forceinline__ u32 load_u32(const u16* p) { return *(const u32*)p; }

// Stages rows [r0, r0+64) of a [len, D] row view (row stride sl elements) into a shared tile with
// row stride D+8; rows at or past `len` are zero filled (src_bytes 0, nothing read). Needs `src`
// and every row start 16-byte aligned (checked by the host).
template <int D>
__device__ __forceinline__ void fa_load_tile(u16* tile, const u16* src, i64 r0, i64 len, i64 sl) {
    constexpr int LD = D + 8, CHUNKS = D / 8;
    for (int c = threadIdx.x; c < FA_KEYS * CHUNKS; c += FA_THREADS) {
        const int row = c / CHUNKS, col = (c % CHUNKS) * 8;
        const bool inside = r0 + row < len;
        const u16* p = inside ? src + (r0 + row) * sl + col : src;
        cp_async16(tile + row * LD + col, p, inside ? 16u : 0u);
    }
}

// out, q, k, v point at element (0,0,0,0) of their [B, H, L, D] views; s*b, s*h, s*l are element
// strides of the b, h and l dims (d is contiguous).
template <bool BF16, int D>
__device__ __forceinline__ void flash_attention(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk,
                                                float scale_log2, i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl,
                                                i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {
    constexpr int LD = D + 8;       // shared row stride (elements)
    constexpr int KSTEPS = D / 16;  // k-steps of Q·Kᵀ
    constexpr int NT = D / 8;       // 8-column tiles of O
    constexpr int ST = FA_KEYS / 8; // 8-key tiles of S
    const float neg_inf = -__int_as_float(0x7f800000);

    u16* qs = (u16*)fa_smem;
    u16* ks = qs + FA_ROWS * LD;
    u16* vs = ks + FA_KEYS * LD;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const i64 q0 = (i64)blockIdx.x * FA_ROWS;
    const i64 h = blockIdx.y, b = blockIdx.z;
    const u16* qb = q + b * qsb + h * qsh;
    const u16* kb = k + b * ksb + h * ksh;
    const u16* vb = v + b * vsb + h * vsh;
    const int tiles = (int)((lk + FA_KEYS - 1) / FA_KEYS);

    fa_load_tile<D>(qs, qb, q0, lq, qsl);
    cp_async_commit();  // group Q
    if (tiles > 0) fa_load_tile<D>(ks, kb, 0, lk, ksl);
    cp_async_commit();  // group K0
    if (tiles > 0) fa_load_tile<D>(vs, vb, 0, lk, vsl);
    cp_async_commit();  // group V0
    cp_async_wait<2>(); // Q landed
    __syncthreads();

    // A fragments of this warp's 16 query rows (tile rows 16·warp + g and + 8).
    u32 qf[KSTEPS][4];
    {
        const u16* r_lo = qs + (warp * 16 + g) * LD + 2 * t;
        const u16* r_hi = r_lo + 8 * LD;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) {
            qf[kk][0] = load_u32(r_lo + 16 * kk);
            qf[kk][1] = load_u32(r_hi + 16 * kk);
            qf[kk][2] = load_u32(r_lo + 16 * kk + 8);
            qf[kk][3] = load_u32(r_hi + 16 * kk + 8);
        }
    }

    float o[NT][4];
#pragma unroll
    for (int n = 0; n < NT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    // Per owned row (index 0: row g, 1: row g+8): running max (log2 domain) and this thread's
    // share of the running sum.
    float row_max[2] = {neg_inf, neg_inf}, row_sum[2] = {0.0f, 0.0f};

    for (int it = 0; it < tiles; ++it) {
        const i64 k0 = (i64)it * FA_KEYS;
        cp_async_wait<1>(); // K(it) landed (V(it) may be in flight)
        __syncthreads();

        // S = Q·K(it)ᵀ: s[j] is the 16×8 tile of keys k0 + 8j .. k0 + 8j + 7.
        float s[ST][4];
#pragma unroll
        for (int j = 0; j < ST; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) {
#pragma unroll
            for (int j = 0; j < ST; ++j) {
                const u16* kr = ks + (8 * j + g) * LD + 16 * kk + 2 * t;
                mma_16816<BF16>(s[j], qf[kk], load_u32(kr), load_u32(kr + 8));
            }
        }
        __syncthreads(); // every warp is done with the K buffer
        if (it + 1 < tiles) fa_load_tile<D>(ks, kb, k0 + FA_KEYS, lk, ksl);
        cp_async_commit(); // group K(it+1), empty after the last tile

        // Online softmax. s[j][e] is row (e < 2 ? g : g+8), key k0 + 8j + 2t + (e & 1).
        float tile_max[2] = {neg_inf, neg_inf};
#pragma unroll
        for (int j = 0; j < ST; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const i64 key = k0 + 8 * j + 2 * t + (e & 1);
                const float x = key < lk ? s[j][e] * scale_log2 : neg_inf;
                s[j][e] = x;
                tile_max[e >> 1] = fmaxf(tile_max[e >> 1], x);
            }
        }
        float base[2], correction[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            float m = tile_max[i];
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
            const float next = fmaxf(row_max[i], m);
            // Nothing but -inf so far: subtract 0 so that p = 0 rather than NaN.
            base[i] = next == neg_inf ? 0.0f : next;
            correction[i] = exp2f(row_max[i] - base[i]); // 0 while row_max is -inf
            row_max[i] = next;
        }
        float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int j = 0; j < ST; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float p = exp2f(s[j][e] - base[e >> 1]);
                s[j][e] = p;
                tile_sum[e >> 1] += p;
            }
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) row_sum[i] = row_sum[i] * correction[i] + tile_sum[i];
#pragma unroll
        for (int n = 0; n < NT; ++n) {
            o[n][0] *= correction[0];
            o[n][1] *= correction[0];
            o[n][2] *= correction[1];
            o[n][3] *= correction[1];
        }

        cp_async_wait<1>(); // V(it) landed (K(it+1) may be in flight)
        __syncthreads();
        // O += P·V(it), 16 keys per k-step.
#pragma unroll
        for (int kk = 0; kk < FA_KEYS / 16; ++kk) {
            u32 pa[4];
            pa[0] = pack_pair<BF16>(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = pack_pair<BF16>(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = pack_pair<BF16>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = pack_pair<BF16>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
            const u16* vr = vs + (16 * kk + 2 * t) * LD + g; // V tile row 16kk + 2t, column g
#pragma unroll
            for (int n = 0; n < NT; ++n) {
                const u16* p = vr + 8 * n;
                const u32 b0 = (u32)p[0] | ((u32)p[LD] << 16);          // keys 2t, 2t+1
                const u32 b1 = (u32)p[8 * LD] | ((u32)p[9 * LD] << 16); // keys 2t+8, 2t+9
                mma_16816<BF16>(o[n], pa, b0, b1);
            }
        }
        __syncthreads(); // every warp is done with the V buffer
        if (it + 1 < tiles) fa_load_tile<D>(vs, vb, k0 + FA_KEYS, lk, vsl);
        cp_async_commit(); // group V(it+1), empty after the last tile
    }
    cp_async_wait<0>();

    // Normalise and store the rows inside Lq. A row without any finite score (only possible with
    // infinite inputs, or Lk = 0) has sum 0 and becomes NaN, as on the CPU.
    float inv[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        float l = row_sum[i];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[i] = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
    }
    const i64 row_lo = q0 + warp * 16 + g, row_hi = row_lo + 8;
    u16* ob = out + b * osb + h * osh;
#pragma unroll
    for (int n = 0; n < NT; ++n) {
        const int col = 8 * n + 2 * t;
        if (row_lo < lq) *(u32*)(ob + row_lo * osl + col) = pack_pair<BF16>(o[n][0] * inv[0], o[n][1] * inv[0]);
        if (row_hi < lq) *(u32*)(ob + row_hi * osl + col) = pack_pair<BF16>(o[n][2] * inv[1], o[n][3] * inv[1]);
    }
}

// Entry points: one per (type, D). Launch with FA_THREADS threads, grid (⌈Lq/64⌉, H, B) and
// 3·64·(D+8)·2 bytes of dynamic shared memory. The bodies are empty below sm_80; the host never
// selects them there.
#define FA_ENTRY(NAME, BF16, D)                                                                                      \
    extern "C" __global__ void __launch_bounds__(FA_THREADS)                                                         \
        NAME(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk, float scale_log2, i64 qsb, i64 qsh,  \
             i64 qsl, i64 ksb, i64 ksh, i64 ksl, i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {              \
        FA_BODY(BF16, D)                                                                                             \
    }

#if __CUDA_ARCH__ >= 800
#define FA_BODY(BF16, D)                                                                                             \
    flash_attention<BF16, D>(out, q, k, v, lq, lk, scale_log2, qsb, qsh, qsl, ksb, ksh, ksl, vsb, vsh, vsl, osb, osh, \
                             osl);
#else
#define FA_BODY(BF16, D)
#endif

FA_ENTRY(td_flash_attn_bf16_d64, true, 64)
FA_ENTRY(td_flash_attn_bf16_d128, true, 128)
FA_ENTRY(td_flash_attn_f16_d64, false, 64)
FA_ENTRY(td_flash_attn_f16_d128, false, 128)
