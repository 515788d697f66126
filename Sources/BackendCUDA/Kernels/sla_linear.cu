// SLA's linear branch (docs/dit.md) on tensor cores for bf16/f16 with D = Dv ∈ {64, 128}; sm_80+
// (empty bodies below). CUDABackend+SparseLinear.swift launches these; the compositions in
// TensorCore (`composedSLALinearState`, `composedSLALinearApply`) define the values.
//
// td_sla_linear_state_<t>_d<D>   partial φ(k)ᵀv and Σφ(k) in fp32 per chunk of tokens of one head
// td_sla_linear_state_reduce      sums the chunks in chunk order and rounds kv and Σφ(k) to T
// td_sla_linear_apply_<t>_d<D>   φ(q)·kv / (φ(q)·Σφ(k) + 1e-5) for SL_ROWS query rows of one head
//
// q/k/v are row views with D contiguous elements (the DiT's [L, H·D] activations as [B, H, L, D]):
// row t of head (b, h) starts at base + b·sb + h·sh + t·st (elements); the host checks 16-byte
// alignment of the base and of every row start.
//
// φ = softmax over one token's D channels, in fp32 as the CPU computes it (e = exp(x − max),
// φ = e·(1/Σe)), then rounded to T: the reference rounds φ before both products. Every later
// rounding point of the reference is kept: kv, Σφ(k), the numerator, each product φ(q)_c·Σφ(k)_c,
// their sum, the sum + 1e-5 and the quotient are rounded to T. Only the fp32 summation orders differ.
//
// mma.m16n8k16 fragments (lane = 4g + t, two 16-bit elements per register, lower index low):
//   A a0 (row g, k 2t..2t+1) a1 (row g+8, k 2t..) a2 (row g, k 2t+8..) a3 (row g+8, k 2t+8..)
//   B b0 (k 2t..2t+1, col g) b1 (k 2t+8..2t+9, col g);  C c0,c1 (row g, cols 2t, 2t+1) c2,c3 (row g+8)
// Both operands are read from shared memory as 32-bit pairs along k, so every tile is stored with k
// contiguous: the state keeps φ(k)ᵀ [D][tokens] and vᵀ [D][tokens]; apply keeps φ(q) [rows][D] and
// kvᵀ [Dv][D]. Row strides are k + 8 halves (≡ 4 words mod 32), so the 8 rows × 4 pairs of one
// fragment load fall in 32 distinct banks.

// Tokens per tile of the state kernel.
#define SL_TOKENS 64
// Row stride (halves) of the state's transposed tiles.
#define SL_TLD (SL_TOKENS + 8)
// Staging passes of the state kernel whose loads are issued together (more spills registers).
#define SL_PREFETCH 2
// Query rows per thread block of the apply kernel (16 per warp).
#define SL_ROWS 128

template <bool BF16>
__device__ __forceinline__ void sl_mma(float* c, const u32* a, u32 b0, u32 b1) {
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

template <bool BF16>
__device__ __forceinline__ float sl_widen(u16 h) { return BF16 ? bf16_to_float(h) : half_to_float(h); }

template <bool BF16>
__device__ __forceinline__ u16 sl_round(float f) { return BF16 ? float_to_bf16(f) : float_to_half(f); }

// f rounded to T (nearest even), as a float.
template <bool BF16>
__device__ __forceinline__ float sl_rounded(float f) { return sl_widen<BF16>(sl_round<BF16>(f)); }

// Softmax of one token whose D channels are spread over G = D/8 lanes of a warp (G divides 32,
// the lanes of a token are G consecutive lanes, 8 channels each); every lane of the warp must call
// it. x: this lane's 8 channels in, φ rounded to T out.
template <bool BF16, int D>
__device__ __forceinline__ void sl_phi(float* x) {
    constexpr int G = D / 8;
    float m = x[0];
#pragma unroll
    for (int i = 1; i < 8; ++i) m = fmaxf(m, x[i]);
#pragma unroll
    for (int o = G / 2; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
#pragma unroll
    for (int o = G / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    const float inv = 1.0f / s;
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = sl_rounded<BF16>(x[i] * inv);
}

// ---------------------------------------------------------------------------------------------
// State: grid (chunks, H, B), 2·D threads (D/16 warps). Chunk c covers tokens
// [c·chunk_tokens, min(len, (c+1)·chunk_tokens)), chunk_tokens a multiple of SL_TOKENS. Warp w owns
// channels 16w..16w+15 of φ(k)ᵀv (A = φ(k)ᵀ: rows = channels, k = tokens; B = v).
// partial: [B·H][chunks][D·D + D] fp32 — φ(k)ᵀv row-major, then Σφ(k).
//
// Staging: G = D/8 lanes per token, lane j of a token takes channels j, j + G, …, j + 7G (not 8
// contiguous ones), so the transposed stores of a warp fall in distinct bank pairs; the global loads
// of one instruction still cover G consecutive channels of 2 tokens.
template <bool BF16, int D>
__device__ __forceinline__ void sl_state(float* partial, const u16* k, const u16* v, i64 ksb, i64 ksh, i64 kst,
                                         i64 vsb, i64 vsh, i64 vst, i64 len, int chunk_tokens) {
    constexpr int G = D / 8, THREADS = 2 * D, ROWS_PER_PASS = THREADS / G;
    __shared__ u16 kt[D * SL_TLD];                 // φ(k)ᵀ of the tile
    __shared__ u16 vt[D * SL_TLD];                 // vᵀ of the tile
    __shared__ float ksum_part[ROWS_PER_PASS][D];  // Σφ(k) per staging row group
    const int chunks = gridDim.x, chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int head = b * gridDim.y + h;
    const u16* kh = k + (i64)b * ksb + (i64)h * ksh;
    const u16* vh = v + (i64)b * vsb + (i64)h * vsh;
    const i64 t_begin = (i64)chunk * chunk_tokens, t_end = min(len, t_begin + chunk_tokens);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int j = threadIdx.x % G, r_first = threadIdx.x / G;

    float acc[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[n][e] = 0.0f;
    float kacc[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) kacc[i] = 0.0f;

    for (i64 t0 = t_begin; t0 < t_end; t0 += SL_TOKENS) {
        __syncthreads();   // every warp has read the previous tile
        // Loads in groups of SL_PREFETCH passes (independent, so in flight together), then the math;
        // the whole tile at once would spill.
#pragma unroll
        for (int p0 = 0; p0 < SL_TOKENS / ROWS_PER_PASS; p0 += SL_PREFETCH) {
            u16 kraw[SL_PREFETCH][8], vraw[SL_PREFETCH][8];
#pragma unroll
            for (int pp = 0; pp < SL_PREFETCH; ++pp) {
                const i64 tok = t0 + r_first + (p0 + pp) * ROWS_PER_PASS;
                const bool inside = tok < t_end;
                const u16* kr = kh + (inside ? tok : t0) * kst + j;
                const u16* vr = vh + (inside ? tok : t0) * vst + j;
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    kraw[pp][i] = kr[i * G];
                    vraw[pp][i] = inside ? vr[i * G] : (u16)0;
                }
            }
#pragma unroll
            for (int pp = 0; pp < SL_PREFETCH; ++pp) {
                const int r = r_first + (p0 + pp) * ROWS_PER_PASS;
                const bool inside = t0 + r < t_end;
                float x[8];
#pragma unroll
                for (int i = 0; i < 8; ++i) x[i] = sl_widen<BF16>(kraw[pp][i]);
                sl_phi<BF16, D>(x);   // all lanes: rows past the end compute a φ that is dropped
#pragma unroll
                for (int i = 0; i < 8; ++i) {
                    const float p = inside ? x[i] : 0.0f;
                    kacc[i] += p;
                    kt[(j + i * G) * SL_TLD + r] = sl_round<BF16>(p);
                    vt[(j + i * G) * SL_TLD + r] = vraw[pp][i];
                }
            }
        }
        __syncthreads();
        const int ch = warp * 16 + g;
#pragma unroll
        for (int kk = 0; kk < SL_TOKENS / 16; ++kk) {
            const int col = kk * 16 + 2 * t;
            u32 a[4];
            a[0] = *(const u32*)&kt[ch * SL_TLD + col];
            a[1] = *(const u32*)&kt[(ch + 8) * SL_TLD + col];
            a[2] = *(const u32*)&kt[ch * SL_TLD + col + 8];
            a[3] = *(const u32*)&kt[(ch + 8) * SL_TLD + col + 8];
#pragma unroll
            for (int n = 0; n < D / 8; ++n) {
                const u16* vrow = &vt[(8 * n + g) * SL_TLD + col];
                sl_mma<BF16>(acc[n], a, *(const u32*)vrow, *(const u32*)(vrow + 8));
            }
        }
    }

    float* out = partial + ((i64)head * chunks + chunk) * (D * D + D);
    const int ch = warp * 16 + g;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
        const int col = 8 * n + 2 * t;
        out[ch * D + col] = acc[n][0];
        out[ch * D + col + 1] = acc[n][1];
        out[(ch + 8) * D + col] = acc[n][2];
        out[(ch + 8) * D + col + 1] = acc[n][3];
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) ksum_part[r_first][j + i * G] = kacc[i];
    __syncthreads();
    if (threadIdx.x < D) {
        float s = 0.0f;
        for (int p = 0; p < ROWS_PER_PASS; ++p) s += ksum_part[p][threadIdx.x];
        out[D * D + threadIdx.x] = s;
    }
}

// Sums the chunks of `partial` ([heads][chunks][n], n = D·Dv + D) in chunk order and rounds to T:
// kv [heads][D·Dv], ksum [heads][D]. Grid-stride over heads·n.
extern "C" __global__ void td_sla_linear_state_reduce(u16* kv, u16* ksum, const float* partial, int heads, int chunks,
                                                      int d, int dv, int bf16) {
    const i64 n = (i64)d * dv + d, total = (i64)heads * n;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const i64 head = i / n, e = i - head * n;
        const float* p = partial + head * chunks * n + e;
        float s = 0.0f;
        for (int c = 0; c < chunks; ++c) s += p[(i64)c * n];
        const u16 r = bf16 ? float_to_bf16(s) : float_to_half(s);
        if (e < (i64)d * dv) kv[head * d * dv + e] = r;
        else ksum[head * d + (e - (i64)d * dv)] = r;
    }
}

// ---------------------------------------------------------------------------------------------
// Apply: grid (⌈len/SL_ROWS⌉, H, B), 256 threads (8 warps × 16 rows). kv [B·H][D][D] and ksum
// [B·H][D] dense in T; out [B·H][len][D] dense in T. Dynamic shared memory ((SL_ROWS + D)·(D + 8)
// halves + (D + SL_ROWS) floats): φ(q) [SL_ROWS][D+8] and kvᵀ [D][D+8] in T, then Σφ(k) [D] and
// the rounded denominators [SL_ROWS] as floats.
extern __shared__ __attribute__((aligned(16))) unsigned char sl_smem[];

template <bool BF16, int D>
__device__ __forceinline__ void sl_apply(u16* out, const u16* q, const u16* kv, const u16* ksum, i64 qsb, i64 qsh,
                                         i64 qst, i64 len) {
    constexpr int LD = D + 8, G = D / 8, THREADS = 256, ROWS_PER_PASS = THREADS / G;
    u16* qs = (u16*)sl_smem;                        // φ(q) [SL_ROWS][LD]
    u16* kvt = qs + SL_ROWS * LD;                   // kvᵀ [D][LD]
    float* ks = (float*)(kvt + D * LD);             // Σφ(k) [D]
    float* den = ks + D;                            // [SL_ROWS]
    const int h = blockIdx.y, b = blockIdx.z, head = b * gridDim.y + h;
    const i64 row0 = (i64)blockIdx.x * SL_ROWS;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;

    // This thread's q chunks (G lanes per row, 8 contiguous channels each), loaded first so their
    // latency overlaps the staging of kv.
    constexpr int PASSES = SL_ROWS / ROWS_PER_PASS;
    const u16* qh = q + (i64)b * qsb + (i64)h * qsh;
    const int c0 = (threadIdx.x % G) * 8;
    uint4 qw[PASSES];
#pragma unroll
    for (int pass = 0; pass < PASSES; ++pass) {
        const i64 row = row0 + threadIdx.x / G + pass * ROWS_PER_PASS;
        qw[pass] = *(const uint4*)(qh + (row < len ? row : row0) * qst + c0);
    }

    // kvᵀ: thread → channel c = tid % D (consecutive lanes, conflict-free transposed stores) and
    // 8 output columns per step.
    const u16* kvh = kv + (i64)head * D * D;
#pragma unroll 4
    for (int e = threadIdx.x; e < D * (D / 8); e += THREADS) {
        const int c = e % D, col = (e / D) * 8;
        const uint4 w = *(const uint4*)(kvh + c * D + col);
        const u16* hv = (const u16*)&w;
#pragma unroll
        for (int i = 0; i < 8; ++i) kvt[(col + i) * LD + c] = hv[i];
    }
    for (int c = threadIdx.x; c < D; c += THREADS) ks[c] = sl_widen<BF16>(ksum[(i64)head * D + c]);
    __syncthreads();

    // φ(q) rows and their denominators.
#pragma unroll
    for (int pass = 0; pass < PASSES; ++pass) {
        const int r = threadIdx.x / G + pass * ROWS_PER_PASS;
        const u16* hv = (const u16*)&qw[pass];
        float x[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) x[i] = sl_widen<BF16>(hv[i]);
        sl_phi<BF16, D>(x);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) s += sl_rounded<BF16>(x[i] * ks[c0 + i]);   // the product is exact in fp32
#pragma unroll
        for (int o = G / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (c0 == 0) den[r] = sl_rounded<BF16>(sl_rounded<BF16>(s) + 1e-5f);
        uint4 packed;
        u32* pw = (u32*)&packed;
#pragma unroll
        for (int i = 0; i < 4; ++i) pw[i] = (u32)sl_round<BF16>(x[2 * i]) | ((u32)sl_round<BF16>(x[2 * i + 1]) << 16);
        *(uint4*)(qs + r * LD + c0) = packed;
    }
    __syncthreads();

    float acc[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[n][e] = 0.0f;
    const int r = warp * 16 + g;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
        const int col = kk * 16 + 2 * t;
        u32 a[4];
        a[0] = *(const u32*)&qs[r * LD + col];
        a[1] = *(const u32*)&qs[(r + 8) * LD + col];
        a[2] = *(const u32*)&qs[r * LD + col + 8];
        a[3] = *(const u32*)&qs[(r + 8) * LD + col + 8];
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
            const u16* brow = &kvt[(8 * n + g) * LD + col];
            sl_mma<BF16>(acc[n], a, *(const u32*)brow, *(const u32*)(brow + 8));
        }
    }
    u16* oh = out + (i64)head * len * D;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int rr = r + 8 * half;
        const i64 row = row0 + rr;
        if (row >= len) continue;
        const float dn = den[rr];
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
            const float lo = __fdiv_rn(sl_rounded<BF16>(acc[n][2 * half]), dn);
            const float hi = __fdiv_rn(sl_rounded<BF16>(acc[n][2 * half + 1]), dn);
            *(u32*)(oh + row * D + 8 * n + 2 * t) = (u32)sl_round<BF16>(lo) | ((u32)sl_round<BF16>(hi) << 16);
        }
    }
}

#if __CUDA_ARCH__ >= 800
#define SL_ON(...) __VA_ARGS__;
#else
#define SL_ON(...)
#endif

#define SL_KERNELS(T, BF16, D)                                                                                      \
    extern "C" __global__ void __launch_bounds__(2 * D, 2) td_sla_linear_state_##T##_d##D(                           \
        float* partial, const u16* k, const u16* v, i64 ksb, i64 ksh, i64 kst, i64 vsb, i64 vsh, i64 vst, i64 len, \
        int chunk_tokens) {                                                                                         \
        SL_ON(sl_state<BF16, D>(partial, k, v, ksb, ksh, kst, vsb, vsh, vst, len, chunk_tokens))                  \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256) td_sla_linear_apply_##T##_d##D(                             \
        u16* out, const u16* q, const u16* kv, const u16* ksum, i64 qsb, i64 qsh, i64 qst, i64 len) {              \
        SL_ON(sl_apply<BF16, D>(out, q, kv, ksum, qsb, qsh, qst, len))                                             \
    }

SL_KERNELS(bf16, true, 64)
SL_KERNELS(bf16, true, 128)
SL_KERNELS(f16, false, 64)
SL_KERNELS(f16, false, 128)
