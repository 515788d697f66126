// SageSLA on tensor cores (sm_89+), compiled after sage_attention.cu's primitives (e4m3 bits, exp2
// in double, row addressing): td_sage_attention_mma_d<D>_k<BK>, D = Dv ∈ {64, 128},
// BK = blockK ∈ {64, 128}; any blockQ (split into chunks of SG_ROWS rows as td_sage_attention).
//
// Block: 4 warps, SG_ROWS = 64 query rows (warp w owns rows 16w..16w+15); grid (mq·⌈blockQ/64⌉, heads).
// The selected key blocks are visited in the listed order (indices outside 0..<mk skipped); the K tile
// [BK][D] int8 (row stride D+16 bytes) and the Vt tile [D][BK] f16 (row stride BK+8 halves) of the
// next block are fetched with cp.async into the other half of a double buffer while the current one is
// used. The lean variant (td_sage_attention_mma_lean_*, for GPUs with 99 KiB of shared memory per block,
// where D = 128 with 128-key blocks needs 104 KiB double-buffered) keeps one Vt tile: the next block's
// Vt is fetched after P·V has read the current one, so it overlaps the next block's Q·Kᵀ and softmax
// only (one more barrier per block). Both tiles are read with ldmatrix.x4 (four 8×8 matrices of 16-byte
// rows per instruction); the pads put the 8 rows of each matrix on distinct 16-byte bank groups.
//
// Fragments (PTX ISA), lane = 4g + t:
//   m16n8k32 8-bit, each .b32 four consecutive k (lowest index in the lowest byte):
//     A (16×32)  a0: row g, k 4t..4t+3    a1: row g+8    a2/a3: the same with k + 16
//     B (32×8)   b0: k 4t..4t+3, col g    b1: k 16+4t..16+4t+3, col g
//   m16n8k16 f16, each .b32 two consecutive k (lower index in the lower half):
//     A (16×16)  a0: row g, k 2t,2t+1     a1: row g+8    a2/a3: the same with k + 8
//     B (16×8)   b0: k 2t,2t+1, col g     b1: k 8+2t,8+2t+1, col g
//   C/D (16×8) c0,c1: row g, cols 2t,2t+1    c2,c3: row g+8, cols 2t,2t+1
// ldmatrix hands lane 4g + t the word t of row g of each matrix, which is a B fragment register of
// either kind when the matrix's rows are the fragment's columns (keys of K, channels of Vt).
// S = Q·Kᵀ (s8·s8 → s32, exact): A = q8 rows, B[k = d][n = key] = K[key][d].
// O += P·V (f16·f16 → f32): P's e4m3 values converted to f16 (exact) straight from S's accumulators:
// S tiles 2kk and 2kk+1 hold, for rows g and g+8, keys 2t,2t+1 of each — A of k step kk as it stands.
// V's e4m3 values are stored as f16 (exact; td_sage_v_quantize_t), transposed, in key order. sm_90
// has no fp8 mma.sync (ptxas emulates it with f16 HMMA and conversions of both operands), so this is
// the same tensor-core work without the conversions.
//
// Numerics, against CPUBackend.quantizedBlockSparseAttention (the definition):
// - s = ((dot·sq)·sk)·exponent_scale with the exact integer dot: identical.
// - block max, running max m, alpha = exp2(m_old − m_new) (in double, rounded once), p's argument
//   (s − m) + 8.807: identical.
// - e4m3(p): identical (sg_probability_pair: the fast exp2 is only trusted away from e4m3 rounding ties).
// - Row sum: each thread sums its own keys, the four partial sums of a row are added at the end, and
//   p may be the fast exp2 (≤ 2 ulp): the sum differs from the CPU's sequential one by rounding only.
// - P·V: O is rescaled by alpha, then the exact products accumulate into it 16 at a time (the CPU
//   adds them one by one in key order). Only rounding of sums differs from the CPU: NMSE far below
//   1e-6 (scripts/cuda/emulate_sage_attention.py).
#define SG_ROWS 64
#define SG_THREADS 128
// ex2.approx.f32 is within 2 ulp; e4m3 rounding is decided on the fast value only when the values
// SG_TIE_ULPS ulp below and above it round the same way (sg_tie_window).
#define SG_TIE_ULPS 64
// Bits of 1.5·2^23 as the int32 Q·Kᵀ accumulator's start (see the S loop) and that float.
#define SG_DOT_BIAS 0x4B400000
#define SG_DOT_BIAS_VALUE 12582912.0f

extern __shared__ __attribute__((aligned(16))) unsigned char sg_smem[];

__device__ __forceinline__ u32 sg_shared_address(const void* p) {
    u32 a;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 16-byte copy global → shared; src_bytes = 0 stores 16 zero bytes and reads nothing.
__device__ __forceinline__ void sg_cp_async16(void* dst, const void* src, u32 src_bytes) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(sg_shared_address(dst)), "l"(src), "r"(src_bytes)
                 : "memory");
#endif
}

__device__ __forceinline__ void sg_cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

template <int N>
__device__ __forceinline__ void sg_cp_async_wait() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// Four 8×8 matrices of 16-bit elements from shared memory: lane L gives the address of row L%8 of
// matrix L/8 (16 bytes, 16-byte aligned) and receives, in r[j], row L/4 elements 2(L%4), 2(L%4)+1 of
// matrix j — for 8-bit data, row L/4 bytes 4(L%4)..4(L%4)+3: both are mma B fragments (col = row).
// `row` is a shared-window address (__cvta_generic_to_shared).
__device__ __forceinline__ void sg_ldmatrix_x4(u32* r, u32 row) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(row));
#endif
}

// c += a·b, m16n8k32 s8 × s8 → s32 (exact).
__device__ __forceinline__ void sg_mma_s8(int* c, const u32* a, u32 b0, u32 b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// c += a·b, m16n8k16 f16 × f16 → f32. Products of e4m3 values held as f16 (exact) are exact.
__device__ __forceinline__ void sg_mma_f16(float* c, const u32* a, u32 b0, u32 b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two e4m3 values (byte 0, byte 1) as an f16x2 (low half, high half); exact.
__device__ __forceinline__ u32 sg_e4m3x2_to_f16x2(u32 bits) {
#if __CUDA_ARCH__ >= 890
    u32 r;
    asm("{ .reg .b16 t; cvt.u16.u32 t, %1; cvt.rn.f16x2.e4m3x2 %0, t; }" : "=r"(r) : "r"(bits));
    return r;
#else
    return 0u;
#endif
}

// ex2.approx.ftz.f32: within 2 ulp of 2^x; results below 2^-126 flush to +0 (e4m3 rounds them to 0
// anyway; the row sum loses at most that denormal). 2^-inf = +0.
__device__ __forceinline__ float sg_exp2_fast(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// e4m3 bits of two floats by one hardware conversion (sm_89+): `high` in bits 8..15, `low` in bits
// 0..7. Rounds to nearest even like sa_fp8_bits on [0, 448] — a range p = 2^((s − m) + 8.807) ≤ 2^8.807
// never leaves (they differ only from 480 up and for NaN, where .satfinite gives 0x7E).
__device__ __forceinline__ u32 sg_e4m3x2(float high, float low) {
#if __CUDA_ARCH__ >= 890
    unsigned short r;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(high), "f"(low));
    return (u32)r;
#else
    return (sa_fp8_bits(high) << 8) | sa_fp8_bits(low);
#endif
}

// ---- SG device code (also compiled by scripts/cuda/sage_attention_emulator.cpp)

// The correctly rounded 2^x of both scores, in double: out of line, because inlined into each of
// the 64 unrolled scores of a thread it made the kernel 18k instructions and stalled it on
// instruction fetch. Taken only near e4m3 rounding ties (a few in 10^4 probabilities).
__device__ __noinline__ float2 sg_exp2_pair_exact(float x0, float x1) {
    return make_float2(sa_exp2(x0), sa_exp2(x1));
}

// e4m3 bits of y's tie window: both ends y ∓ SG_TIE_ULPS ulp converted at once (upper byte: the
// upper end). Rounding is monotonic, so equal bytes mean every value in the window — the correctly
// rounded 2^x among them, the fast exp2 being within 2 ulp — has those bits. y ≥ 0.
__device__ __forceinline__ u32 sg_tie_window(float y) {
    const u32 u = __float_as_uint(y);
    return sg_e4m3x2(__uint_as_float(u + SG_TIE_ULPS), __uint_as_float(u - min(u, (u32)SG_TIE_ULPS)));
}

// p = 2^x for the row sum and e4m3(2^x) for P·V, two adjacent keys of one row at once; returns the
// bits with x0's in byte 0 and x1's in byte 1. The bits are those of the correctly rounded 2^x (as
// td_sage_attention): when either fast value's tie window holds a rounding boundary, both are
// evaluated exactly. x = −inf (a masked key) gives p = 0, bits 0.
__device__ __forceinline__ u32 sg_probability_pair(float x0, float x1, float* p0, float* p1) {
    float y0 = sg_exp2_fast(x0), y1 = sg_exp2_fast(x1);
    const u32 w0 = sg_tie_window(y0), w1 = sg_tie_window(y1);
    u32 bits = (w0 & 0xFFu) | ((w1 & 0xFFu) << 8);
    if (((w0 ^ (w0 >> 8)) | (w1 ^ (w1 >> 8))) & 0xFFu) {
        const float2 e = sg_exp2_pair_exact(x0, x1);
        y0 = e.x;
        y1 = e.y;
        bits = sg_e4m3x2(y1, y0);
    }
    *p0 = y0;
    *p1 = y1;
    return bits;
}

// Index of the first valid entry (0 ≤ block < mk) of list[from..<keep], or keep.
__device__ __forceinline__ int sg_next(const int* list, int from, int keep, int mk) {
    while (from < keep && (list[from] < 0 || list[from] >= mk)) ++from;
    return from;
}

// Stages the K rows of key block blk (zero past lk).
template <int D, int BK>
__device__ __forceinline__ void sg_stage_k(unsigned char* ks, const signed char* k8, int head, int blk, i64 lk) {
    constexpr int KLD = D + 16;
    const i64 k0 = (i64)blk * BK;
    for (int e = threadIdx.x; e < BK * (D / 16); e += SG_THREADS) {
        const int row = e / (D / 16), col = (e % (D / 16)) * 16;
        const bool inside = k0 + row < lk;
        const signed char* src = inside ? k8 + ((i64)head * lk + k0 + row) * D + col : k8;
        sg_cp_async16(ks + row * KLD + col, src, inside ? 16u : 0u);
    }
}

// Stages the Vt columns of key block blk (always inside vt16: lkp = mk·BK).
template <int D, int BK>
__device__ __forceinline__ void sg_stage_v(unsigned char* vs, const u16* vt16, int head, int blk, i64 lkp) {
    constexpr int VLD = BK + 8;
    const i64 k0 = (i64)blk * BK;
    for (int e = threadIdx.x; e < D * (BK / 8); e += SG_THREADS) {
        const int c = e / (BK / 8), col = (e % (BK / 8)) * 8;
        sg_cp_async16((u16*)vs + c * VLD + col, vt16 + ((i64)head * D + c) * lkp + k0 + col, 16u);
    }
}

// q8 [heads, lq, D] and k8 [heads, lk, D] int8, vt16 [heads, D, lkp] f16 of e4m3 values
// (td_sage_v_quantize_t, lkp = mk·BK), scales as td_sage_attention; out in odt, laid out as
// td_sage_attention's. Dynamic shared memory: 2·BK·(D+16) + (LEAN ? 1 : 2)·D·(BK+8)·2 bytes.
//
// cp.async groups, LEAN: K(first), Vt(first) before the loop; per block, K(next) at the top and Vt(next)
// after P·V (groups may be empty, so the counts stay fixed): waiting until 2 groups are pending leaves
// K(current) landed, until 1 also Vt(current). Otherwise: K and Vt of a block in one group.
template <int D, int BK, bool LEAN>
__device__ __forceinline__ void sage_attention_mma(
    void* out, int odt, const signed char* q8, const float* q_scale, const signed char* k8, const float* k_scale,
    const u16* vt16, const float* v_scale, const int* blocks, i64 lq, i64 lk, i64 lkp,
    int block_q, int keep, int mq, int mk, float exponent_scale, int heads_per_batch, i64 osb, i64 osh, i64 osl) {
    constexpr int KLD = D + 16, VLD = BK + 8;
    constexpr int KBYTES = BK * KLD, VBYTES = D * VLD * 2;
    constexpr int KT = BK / 8;   // 8-key tiles of S
    constexpr int DK = D / 32;   // k steps of Q·Kᵀ
    constexpr int PK = BK / 16;  // k steps of P·V
    constexpr int NT = D / 8;    // 8-column tiles of O
    const float NEG_INF = -__int_as_float(0x7f800000);

    const int chunks = (block_q + SG_ROWS - 1) / SG_ROWS;
    const int qb = blockIdx.x / chunks, chunk = blockIdx.x % chunks, head = blockIdx.y;
    const i64 r0 = (i64)qb * block_q + (i64)chunk * SG_ROWS;
    const int rows = (int)min((i64)min(SG_ROWS, block_q - chunk * SG_ROWS), lq - r0);
    if (qb >= mq || rows <= 0) return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    // This lane's ldmatrix row (matrix lane/8, row lane%8) in the K tile (k steps kc, kc+1: 16-byte
    // halves j = 0..3 of row n·8 + lane%8) and in the Vt tile (tiles n, n+1 × keys +0/+8).
    const int mat = lane >> 3, mrow = lane & 7;
    const int krow = mrow * KLD + mat * 16;
    const int vrow = ((mat >> 1) * 8 + mrow) * VLD + (mat & 1) * 8;
    const u32 smem = (u32)__cvta_generic_to_shared(sg_smem);

    // Q fragments of rows 16·warp + g (lo) and + 8 (hi); rows past the chunk are zero (never stored).
    u32 qf[DK][4];
    {
        const int lo = warp * 16 + g, hi = lo + 8;
        const u32* qlo = (const u32*)(q8 + ((i64)head * lq + r0 + min(lo, rows - 1)) * D);
        const u32* qhi = (const u32*)(q8 + ((i64)head * lq + r0 + min(hi, rows - 1)) * D);
#pragma unroll
        for (int kc = 0; kc < DK; ++kc) {
            qf[kc][0] = lo < rows ? qlo[kc * 8 + t] : 0u;
            qf[kc][1] = hi < rows ? qhi[kc * 8 + t] : 0u;
            qf[kc][2] = lo < rows ? qlo[kc * 8 + 4 + t] : 0u;
            qf[kc][3] = hi < rows ? qhi[kc * 8 + 4 + t] : 0u;
        }
    }
    const float sq = q_scale[(i64)head * mq + qb];
    float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};
    float o[NT][4];
#pragma unroll
    for (int n = 0; n < NT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

    const int* list = blocks + ((i64)head * mq + qb) * keep;
    int sel = sg_next(list, 0, keep, mk), buf = 0;
    unsigned char* const vtiles = sg_smem + 2 * KBYTES;
    if (sel < keep) {
        sg_stage_k<D, BK>(sg_smem, k8, head, list[sel], lk);
        if (LEAN) sg_cp_async_commit();
        sg_stage_v<D, BK>(vtiles, vt16, head, list[sel], lkp);
    } else if (LEAN) {
        sg_cp_async_commit();
    }
    sg_cp_async_commit();
    while (sel < keep) {
        const int blk = list[sel];
        const int next = sg_next(list, sel + 1, keep, mk);
        if (next < keep) {
            sg_stage_k<D, BK>(sg_smem + (buf ^ 1) * KBYTES, k8, head, list[next], lk);
            if (!LEAN) sg_stage_v<D, BK>(vtiles + (buf ^ 1) * VBYTES, vt16, head, list[next], lkp);
        }
        sg_cp_async_commit();
        if (LEAN) sg_cp_async_wait<2>();   // K of `blk` landed (its Vt and the next K may be in flight)
        else sg_cp_async_wait<1>();        // block `blk` landed (the next one may still be in flight)
        __syncthreads();
        const u32 kaddr = smem + buf * KBYTES + krow, vaddr = smem + 2 * KBYTES + (LEAN ? 0 : buf * VBYTES) + vrow * 2;
        const int kr = (int)min((i64)BK, lk - (i64)blk * BK);
        const float sk = k_scale[(i64)head * mk + blk];

        // S = Q·Kᵀ in int32, then s = ((dot·sq)·sk)·exponent_scale; keys past lk are −inf. The
        // accumulator starts at SG_DOT_BIAS, so its bits are the float 1.5·2^23 + dot (|dot| ≤ 127²·D
        // < 2^22): one subtraction instead of a quarter-rate int → float conversion, exactly.
        float s[KT][4];
#pragma unroll
        for (int n = 0; n < KT; ++n) {
            int acc[4] = {SG_DOT_BIAS, SG_DOT_BIAS, SG_DOT_BIAS, SG_DOT_BIAS};
#pragma unroll
            for (int kc = 0; kc < DK; kc += 2) {   // B fragments of k steps kc, kc+1: one ldmatrix
                u32 b[4];
                sg_ldmatrix_x4(b, kaddr + n * 8 * KLD + kc * 32);
                sg_mma_s8(acc, qf[kc], b[0], b[1]);
                sg_mma_s8(acc, qf[kc + 1], b[2], b[3]);
            }
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float dot = __fsub_rn(__int_as_float(acc[e]), SG_DOT_BIAS_VALUE);
                s[n][e] = __fmul_rn(__fmul_rn(__fmul_rn(dot, sq), sk), exponent_scale);
            }
        }
        if (kr < BK) {   // the ragged last key block only (block-uniform branch)
#pragma unroll
            for (int n = 0; n < KT; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    if (n * 8 + 2 * t + (e & 1) >= kr) s[n][e] = NEG_INF;
        }
        float bm[2] = {NEG_INF, NEG_INF};
#pragma unroll
        for (int n = 0; n < KT; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) bm[e >> 1] = fmaxf(bm[e >> 1], s[n][e]);
        float alpha[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            bm[r] = fmaxf(bm[r], __shfl_xor_sync(0xffffffffu, bm[r], 1));
            bm[r] = fmaxf(bm[r], __shfl_xor_sync(0xffffffffu, bm[r], 2));
            const float m_new = fmaxf(m[r], bm[r]);
            alpha[r] = 1.0f;
            if (m[r] > NEG_INF && m_new > m[r]) {
                alpha[r] = sa_exp2(__fsub_rn(m[r], m_new));
                l[r] = __fmul_rn(l[r], alpha[r]);
            }
            m[r] = m_new;
        }

        // P as f16 pairs of e4m3 values, straight into m16n8k16 A fragments: S tile n's accumulators
        // (row g: keys 2t, 2t+1; row g+8: the same) are registers 0/1 (n even) or 2/3 (n odd) of
        // k step n/2. The thread's partial row sums take the fp32 p. m is finite here (every visited
        // block has a key inside lk), so a masked key's argument is −inf and its p is 0.
        u32 pa[PK][4];
#pragma unroll
        for (int n = 0; n < KT; ++n)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float p0, p1;
                const u32 bits = sg_probability_pair(__fadd_rn(__fsub_rn(s[n][2 * h], m[h]), 8.807f),
                                                     __fadd_rn(__fsub_rn(s[n][2 * h + 1], m[h]), 8.807f), &p0, &p1);
                l[h] = __fadd_rn(__fadd_rn(l[h], p0), p1);
                pa[n >> 1][2 * (n & 1) + h] = sg_e4m3x2_to_f16x2(bits);
            }

        // O = O·alpha + P·V: the products (exact) accumulate into the rescaled output, as the CPU's
        // acc·alpha then += e4m3(p)·v in key order; only the summation order and rounding differ.
#pragma unroll
        for (int n = 0; n < NT; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) o[n][e] = __fmul_rn(o[n][e], alpha[e >> 1]);
        if (LEAN) {   // Vt of `blk` landed, for every thread's copies
            sg_cp_async_wait<1>();
            __syncthreads();
        }
#pragma unroll
        for (int kk = 0; kk < PK; ++kk)
#pragma unroll
            for (int n = 0; n < NT; n += 2) {   // B fragments of tiles n, n+1: one ldmatrix
                u32 b[4];
                sg_ldmatrix_x4(b, vaddr + (n * 8 * VLD + kk * 16) * 2);
                sg_mma_f16(o[n], pa[kk], b[0], b[1]);
                sg_mma_f16(o[n + 1], pa[kk], b[2], b[3]);
            }
        __syncthreads();   // buffer `buf` (LEAN: and the one Vt tile) is refilled by the next prefetch
        if (LEAN) {
            if (next < keep) sg_stage_v<D, BK>(vtiles, vt16, head, list[next], lkp);
            sg_cp_async_commit();
        }
        sel = next;
        buf ^= 1;
    }
    sg_cp_async_wait<0>();

#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] = __fadd_rn(l[r], __shfl_xor_sync(0xffffffffu, l[r], 1));
        l[r] = __fadd_rn(l[r], __shfl_xor_sync(0xffffffffu, l[r], 2));
    }
    const float* vsc = v_scale + (i64)head * D;
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int row = warp * 16 + g + 8 * (e >> 1), col = n * 8 + 2 * t + (e & 1);
            if (row < rows)
                store_float(out, sa_row(head, heads_per_batch, r0 + row, osb, osh, osl) + col, odt,
                            __fmul_rn(__fdiv_rn(o[n][e], l[e >> 1]), vsc[col]));
        }
}

// ---- SG entry points

#define SG_ENTRY(NAME, D, BK, LEAN)                                                                                  \
    extern "C" __global__ void __launch_bounds__(SG_THREADS, 1) NAME(                                                  \
        void* out, int odt, const signed char* q8, const float* q_scale, const signed char* k8,                      \
        const float* k_scale, const u16* vt16, const float* v_scale, const int* blocks, i64 lq, i64 lk,     \
        i64 lkp, int block_q, int keep, int mq, int mk, float exponent_scale, int heads_per_batch, i64 osb, i64 osh, \
        i64 osl) {                                                                                                   \
        sage_attention_mma<D, BK, LEAN>(out, odt, q8, q_scale, k8, k_scale, vt16, v_scale, blocks, lq, lk, lkp, block_q,   \
                                  keep, mq, mk, exponent_scale, heads_per_batch, osb, osh, osl);                     \
    }
#if __CUDA_ARCH__ >= 890
SG_ENTRY(td_sage_attention_mma_d64_k64, 64, 64, false)
SG_ENTRY(td_sage_attention_mma_d64_k128, 64, 128, false)
SG_ENTRY(td_sage_attention_mma_d128_k64, 128, 64, false)
SG_ENTRY(td_sage_attention_mma_d128_k128, 128, 128, false)
SG_ENTRY(td_sage_attention_mma_lean_d128_k128, 128, 128, true)
#endif
