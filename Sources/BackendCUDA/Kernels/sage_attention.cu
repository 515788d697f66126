// SageSLA's 8-bit sparse branch (docs/dit.md): int8 q and k − mean(k) per token block, fp8 e4m3 v per
// channel and fp8 P for P·V, on CUDA cores (td_sage_attention, here, with the quantisation kernels)
// and on tensor cores (td_sage_attention_mma_*, sage_attention_mma.cu, which is compiled after this
// file's primitives: int8 m16n8k32 QKᵀ, e4m3 m16n8k32 PV, sm_89+). CPUBackend
// (SageSparseAttention.swift) defines the results; CUDABackend+SparseAttention.swift launches these
// kernels (the token mean of k is td_sla_key_mean_staged in sparse_attention.cu).
//
// q/k/v are [B, H, L, D] views of any strides: element (head = b·H + h, token t, channel c) of a
// view lives at base + b·sb + h·sh + t·st + c·sc (elements; base already includes the offset).
//
// Bit-exactness: the block map and the SageSLA quantisation reproduce the CPU's fp32 rounding
// sequence (same summation order, no FMA contraction: __fadd_rn/__fmul_rn/__fdiv_rn are never
// fused), because block selection and int8/fp8 rounding decide discrete outcomes. Only the float
// block-sparse attention is free in its summation order.

#define SA_THREADS 256
// Query rows per thread block of the attention kernels; a query block of blockQ rows is split
// into ⌈blockQ/SA_ROWS⌉ chunks (rows are independent).
#define SA_ROWS 64
// Keys per shared-memory chunk of the float kernel and V rows per chunk of the 8-bit kernel.
#define SA_KEYS 32
// Accumulator tiles (4 rows × 4 channels) per thread: SA_ROWS·dv ≤ 16·SA_THREADS·SA_TILES → dv ≤ 256.
#define SA_TILES 4

__device__ __forceinline__ i64 sa_row(int head, int heads_per_batch, i64 t, i64 sb, i64 sh, i64 st) {
    return (i64)(head / heads_per_batch) * sb + (i64)(head % heads_per_batch) * sh + t * st;
}

// Accumulator tile τ of a thread: rows 4·rg.., channels 4·cg.. of the SA_ROWS × dv output chunk
// (as in sparse_attention.cu's float kernel).
struct SaTile { int rg, cg; bool valid; };

__device__ __forceinline__ SaTile sa_tile(int n, int col_groups, int row_groups) {
    const int tau = threadIdx.x + n * SA_THREADS;
    SaTile t;
    t.rg = tau / col_groups;
    t.cg = tau - t.rg * col_groups;
    t.valid = t.rg < row_groups;
    return t;
}

// ---------------------------------------------------------------------------------------------
// SageSLA: int8 q/k, fp8 e4m3 v and P (CPUBackend.quantizedBlockSparseAttention)

// Float → e4m3fn bits, round to nearest even; magnitudes from 480 up (and NaN) give 0x7F | sign
// (no saturation). Step for step as FP8E4M3.bits in ScalarConversion.swift.
__device__ __forceinline__ u32 sa_fp8_bits(float value) {
    u32 f = __float_as_uint(value);
    const u32 sign = f & 0x80000000u;
    f ^= sign;
    u32 result;
    if (f >= 0x43F00000u || value != value) {
        result = 0x7Fu;
    } else if (f < (121u << 23)) {                  // below 2^-6: subnormal (or zero)
        const u32 magic = 141u << 23;
        result = (__float_as_uint(__fadd_rn(__uint_as_float(f), __uint_as_float(magic))) - magic) & 0xFFu;
    } else {
        const u32 odd = (f >> 20) & 1u;
        f += ((u32)(7 - 127) << 23) + 0x7FFFFu;
        f += odd;
        result = (f >> 20) & 0xFFu;
    }
    return result | (sign >> 24);
}

__device__ __forceinline__ float sa_fp8_float(u32 bits) {
    const float sign = (bits & 0x80u) ? -1.0f : 1.0f;
    const int exponent = (int)((bits >> 3) & 0xFu);
    const int mantissa = (int)(bits & 7u);
    if (exponent == 0xF && mantissa == 7) return __int_as_float(0x7fffffff);
    if (exponent == 0) return sign * (float)mantissa * 0.001953125f;          // m/8 · 2^-6
    return sign * (1.0f + (float)mantissa * 0.125f) * __int_as_float((exponent - 7 + 127) << 23);
}

// exp2 rounded once to fp32: the correctly rounded value, which the CPU's libm exp2f returns in all
// but rare near-halfway cases (fp32 exp2f on the GPU is only within 2 ulp).
__device__ __forceinline__ float sa_exp2(float x) { return (float)exp2((double)x); }

__device__ __forceinline__ int sa_dp4a(int a, int b, int c) {
    int d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

// ---- end primitives (sage_attention_mma.cu uses everything above)

// int8 of one value: trunc(y ± ½) of y = (x − sub)/s (ties away from zero).
__device__ __forceinline__ int sa_int8(float x, float sub, float s) {
    const float y = __fdiv_rn(__fsub_rn(x, sub), s);
    return (int)truncf(__fadd_rn(y, y >= 0.0f ? 0.5f : -0.5f));
}

// int8 per block of `block` tokens: y = (x − shift)/s with s = max|x − shift|/127 + 1e-7, value
// trunc(y ± ½) (ties away from zero). Grid (nblocks, heads). out [heads, len, dp] with dp = d rounded
// up to 4 (padding zero); scales [heads, nblocks]. shift [heads, d] or null.
// bf16 rows with contiguous channels, d a multiple of 8 and 16-byte aligned rows (the DiT's q and k)
// take 8 channels per 16-byte load and store 8 bytes at once; the values are the same either way.
extern "C" __global__ void td_sage_quantize_blocks(signed char* out, float* scales, const void* x, int dt,
                                                   i64 sb, i64 sh, i64 st, i64 sc, int heads_per_batch, i64 len,
                                                   int d, int dp, int block, int nblocks, const float* shift) {
    __shared__ float scratch[32];
    const int b = blockIdx.x, head = blockIdx.y;
    const i64 t0 = (i64)b * block, t1 = min(len, t0 + block);
    const i64 base = sa_row(head, heads_per_batch, 0, sb, sh, st);
    const float* hs = shift ? shift + (i64)head * d : nullptr;
    const bool vector = dt == DT_BF16 && sc == 1 && d % 8 == 0 && st % 8 == 0 && base % 8 == 0
                        && ((unsigned long long)x & 15) == 0;
    if (vector) {
        const u16* xs = (const u16*)x + base;
        const int groups = d / 8;
        const i64 n = (t1 - t0) * groups;
        float amax = 0.0f;
        for (i64 e = threadIdx.x; e < n; e += blockDim.x) {
            const i64 t = t0 + e / groups;
            const int c0 = (int)(e % groups) * 8;
            const uint4 raw = *(const uint4*)(xs + t * st + c0);
            const u32 w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const float v = bf16_to_float((u16)(w[j >> 1] >> (16 * (j & 1))));
                amax = fmaxf(amax, fabsf(__fsub_rn(v, hs ? hs[c0 + j] : 0.0f)));
            }
        }
        amax = block_max(amax, scratch);
        const float s = __fadd_rn(__fdiv_rn(amax, 127.0f), 1e-7f);
        if (threadIdx.x == 0) scales[(i64)head * nblocks + b] = s;
        for (i64 e = threadIdx.x; e < n; e += blockDim.x) {
            const i64 t = t0 + e / groups;
            const int c0 = (int)(e % groups) * 8;
            const uint4 raw = *(const uint4*)(xs + t * st + c0);
            const u32 w[4] = {raw.x, raw.y, raw.z, raw.w};
            u32 packed[2] = {0u, 0u};
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const float v = bf16_to_float((u16)(w[j >> 1] >> (16 * (j & 1))));
                packed[j >> 2] |= ((u32)sa_int8(v, hs ? hs[c0 + j] : 0.0f, s) & 0xFFu) << (8 * (j & 3));
            }
            *(uint2*)(out + ((i64)head * len + t) * dp + c0) = make_uint2(packed[0], packed[1]);
        }
        return;
    }
    const i64 n = (t1 - t0) * d;
    float amax = 0.0f;
    for (i64 e = threadIdx.x; e < n; e += blockDim.x) {
        const int c = (int)(e % d);
        const float sub = hs ? hs[c] : 0.0f;
        amax = fmaxf(amax, fabsf(__fsub_rn(load_float(x, base + (t0 + e / d) * st + c * sc, dt), sub)));
    }
    amax = block_max(amax, scratch);
    const float s = __fadd_rn(__fdiv_rn(amax, 127.0f), 1e-7f);
    if (threadIdx.x == 0) scales[(i64)head * nblocks + b] = s;
    const i64 np = (t1 - t0) * dp;
    for (i64 e = threadIdx.x; e < np; e += blockDim.x) {
        const i64 t = t0 + e / dp;
        const int c = (int)(e % dp);
        const int value = c < d ? sa_int8(load_float(x, base + t * st + c * sc, dt), hs ? hs[c] : 0.0f, s) : 0;
        out[((i64)head * len + t) * dp + c] = (signed char)value;
    }
}

// out [heads, len, dv] = e4m3 bits of v / scale[channel].
extern "C" __global__ void td_sage_v_quantize(unsigned char* out, const float* scales, const void* v, int dt,
                                              i64 sb, i64 sh, i64 st, i64 sc, int heads_per_batch, int heads,
                                              i64 len, int dv) {
    const i64 total = (i64)heads * len * dv;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)(i % dv);
        const i64 ht = i / dv;
        const i64 t = ht % len;
        const int head = (int)(ht / len);
        const float x = load_float(v, sa_row(head, heads_per_batch, t, sb, sh, st) + c * sc, dt);
        out[i] = (unsigned char)sa_fp8_bits(__fdiv_rn(x, scales[(i64)head * dv + c]));
    }
}

// Grid (mq · ⌈blockQ/SA_ROWS⌉, heads), SA_THREADS threads; up to SA_ROWS query rows of one query
// block per thread block. For each selected key block, in the listed order (indices outside 0..<mk
// skipped), as the CPU: s = ((q8·k8)·sq·sk)·scale·log2e (exact integer dot); block max; if the running
// max grows, acc and sum are multiplied by exp2(m_old − m_new); p = exp2((s − m) + 8.807); the row sum
// adds p in key order; acc[c] += e4m3(p)·v8[j, c] in key order (the product is exact). Finally
// o = (acc/sum)·v_scale[c]. Every rounding step is an explicit _rn operation in the CPU's order.
// q8 [heads, lq, dp], k8 [heads, lk, dp] int8 (dp % 4 == 0), v8 [heads, lk, dv] e4m3 bits. Output:
// row t of head (b, h) = (head / heads_per_batch, head % heads_per_batch) at b·osb + h·osh + t·osl,
// its dv elements contiguous (element strides; the backend passes a [B, L, H, dv] buffer viewed as
// [B, H, L, dv]).
// Dynamic shared memory (4-byte words): SA_ROWS·(dp/4+1) + block_k·(dp/4+1) + SA_ROWS·(block_k+1)
// + SA_KEYS·dv + 3·SA_ROWS.
extern "C" __global__ void td_sage_attention(
    void* out, int odt, const signed char* q8, const float* q_scale, const signed char* k8, const float* k_scale,
    const unsigned char* v8, const float* v_scale, const int* blocks, i64 lq, i64 lk, int dp, int dv,
    int block_q, int block_k, int keep, int mq, int mk, float exponent_scale, int heads_per_batch, i64 osb, i64 osh,
    i64 osl) {
    extern __shared__ float sa_dyn[];
    const int chunks = (block_q + SA_ROWS - 1) / SA_ROWS;
    const int qb = blockIdx.x / chunks, chunk = blockIdx.x % chunks, head = blockIdx.y;
    const i64 r0 = (i64)qb * block_q + (i64)chunk * SA_ROWS;
    const int rows = (int)min((i64)min(SA_ROWS, block_q - chunk * SA_ROWS), lq - r0);
    if (qb >= mq || rows <= 0) return;

    const int words = dp / 4, stride = words + 1;
    int* qs = (int*)sa_dyn;                               // [SA_ROWS][stride]
    int* ks = qs + SA_ROWS * stride;                      // [block_k][stride]
    float* ss = (float*)(ks + block_k * stride);          // [SA_ROWS][block_k+1]: s, then p, then e4m3(p)
    float* vs = ss + SA_ROWS * (block_k + 1);             // [SA_KEYS][dv]
    float* row_max = vs + SA_KEYS * dv;
    float* row_sum = row_max + SA_ROWS;
    float* row_alpha = row_sum + SA_ROWS;
    const int sstride = block_k + 1;
    const float NEG_INF = -__int_as_float(0x7f800000);

    const int* qsrc = (const int*)(q8 + ((i64)head * lq + r0) * dp);
    for (int e = threadIdx.x; e < rows * words; e += SA_THREADS) qs[(e / words) * stride + e % words] = qsrc[e];
    for (int r = threadIdx.x; r < SA_ROWS; r += SA_THREADS) {
        row_max[r] = NEG_INF;
        row_sum[r] = 0.0f;
    }
    const float sq = q_scale[(i64)head * mq + qb];
    const int col_groups = (dv + 3) / 4, row_groups = (rows + 3) / 4;
    float acc[SA_TILES][4][4];
#pragma unroll
    for (int n = 0; n < SA_TILES; ++n)
#pragma unroll
        for (int a = 0; a < 4; ++a)
#pragma unroll
            for (int b = 0; b < 4; ++b) acc[n][a][b] = 0.0f;

    const int* list = blocks + ((i64)head * mq + qb) * keep;
    for (int sel = 0; sel < keep; ++sel) {
        const int blk = list[sel];
        if (blk < 0 || blk >= mk) continue;
        const i64 k0 = (i64)blk * block_k;
        const int kr = (int)min((i64)block_k, lk - k0);
        const float sk = k_scale[(i64)head * mk + blk];
        __syncthreads();   // the previous block's ks/ss/vs are no longer read
        const int* ksrc = (const int*)(k8 + ((i64)head * lk + k0) * dp);
        for (int e = threadIdx.x; e < kr * words; e += SA_THREADS) ks[(e / words) * stride + e % words] = ksrc[e];
        __syncthreads();
        for (int e = threadIdx.x; e < rows * kr; e += SA_THREADS) {
            const int r = e / kr, j = e % kr;
            const int* qr = qs + r * stride;
            const int* kw = ks + j * stride;
            int dot = 0;
            for (int w = 0; w < words; ++w) dot = sa_dp4a(qr[w], kw[w], dot);
            ss[r * sstride + j] = __fmul_rn(__fmul_rn(__fmul_rn((float)dot, sq), sk), exponent_scale);
        }
        __syncthreads();
        // Running max per row; the rescale factor applies to acc and sum only when the max grows.
        for (int r = threadIdx.x; r < rows; r += SA_THREADS) {
            const float* sr = ss + r * sstride;
            float block_max_value = NEG_INF;
            for (int j = 0; j < kr; ++j) block_max_value = fmaxf(block_max_value, sr[j]);
            const float m = row_max[r];
            const float m_new = fmaxf(m, block_max_value);
            float alpha = 1.0f;
            if (m > NEG_INF && m_new > m) {
                alpha = sa_exp2(__fsub_rn(m, m_new));
                row_sum[r] = __fmul_rn(row_sum[r], alpha);
            }
            row_alpha[r] = alpha;
            row_max[r] = m_new;
        }
        __syncthreads();
        for (int e = threadIdx.x; e < rows * kr; e += SA_THREADS) {
            const int r = e / kr, j = e % kr;
            float* p = ss + r * sstride + j;
            *p = sa_exp2(__fadd_rn(__fsub_rn(*p, row_max[r]), 8.807f));
        }
        __syncthreads();
        // Row sums of the unrounded p in key order, then p is replaced by its e4m3 value.
        for (int r = threadIdx.x; r < rows; r += SA_THREADS) {
            float* sr = ss + r * sstride;
            float sum = row_sum[r];
            for (int j = 0; j < kr; ++j) {
                const float p = sr[j];
                sum = __fadd_rn(sum, p);
                sr[j] = sa_fp8_float(sa_fp8_bits(p));
            }
            row_sum[r] = sum;
        }
        // acc ← acc·alpha (exactly 1 when the max did not grow), then V in chunks of SA_KEYS keys.
#pragma unroll
        for (int n = 0; n < SA_TILES; ++n) {
            const SaTile t = sa_tile(n, col_groups, row_groups);
            if (!t.valid) continue;
#pragma unroll
            for (int a = 0; a < 4; ++a) {
                const float alpha = row_alpha[min(t.rg * 4 + a, rows - 1)];
#pragma unroll
                for (int b = 0; b < 4; ++b) acc[n][a][b] = __fmul_rn(acc[n][a][b], alpha);
            }
        }
        for (int c0 = 0; c0 < kr; c0 += SA_KEYS) {
            const int kc = min(SA_KEYS, kr - c0);
            __syncthreads();   // ss is final (first chunk) / the previous vs chunk is no longer read
            const unsigned char* vsrc = v8 + ((i64)head * lk + k0 + c0) * dv;
            for (int e = threadIdx.x; e < kc * dv; e += SA_THREADS) vs[e] = sa_fp8_float(vsrc[e]);
            __syncthreads();
#pragma unroll
            for (int n = 0; n < SA_TILES; ++n) {
                const SaTile t = sa_tile(n, col_groups, row_groups);
                if (!t.valid) continue;
                int rr[4], cc[4];
#pragma unroll
                for (int a = 0; a < 4; ++a) rr[a] = min(t.rg * 4 + a, rows - 1);
#pragma unroll
                for (int b = 0; b < 4; ++b) cc[b] = min(t.cg * 4 + b, dv - 1);
                for (int j = 0; j < kc; ++j) {
                    float p[4], w[4];
#pragma unroll
                    for (int a = 0; a < 4; ++a) p[a] = ss[rr[a] * sstride + c0 + j];
#pragma unroll
                    for (int b = 0; b < 4; ++b) w[b] = vs[j * dv + cc[b]];
#pragma unroll
                    for (int a = 0; a < 4; ++a)
#pragma unroll
                        for (int b = 0; b < 4; ++b) acc[n][a][b] = __fadd_rn(acc[n][a][b], __fmul_rn(p[a], w[b]));
                }
            }
        }
    }
    __syncthreads();
#pragma unroll
    for (int n = 0; n < SA_TILES; ++n) {
        const SaTile t = sa_tile(n, col_groups, row_groups);
        if (!t.valid) continue;
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            const int r = t.rg * 4 + a;
            if (r >= rows) continue;
            const float sum = row_sum[r];
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int c = t.cg * 4 + b;
                if (c < dv) {
                    const float o = __fmul_rn(__fdiv_rn(acc[n][a][b], sum), v_scale[(i64)head * dv + c]);
                    store_float(out, sa_row(head, heads_per_batch, r0 + r, osb, osh, osl) + c, odt, o);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SageSLA preparation, parallel over tokens


// Per-channel max |v| over a chunk of SA_VMAX_TOKENS tokens: partial [heads, chunks, dv]. Grid
// (chunks, heads), SA_THREADS threads; dynamic shared memory dv · 4 bytes (the max is exact, so the
// order is free: shared atomicMax on the bits of non-negative floats). When dv divides the block,
// each thread keeps one channel and takes its running max first (one atomic per thread).
#define SA_VMAX_TOKENS 128
extern "C" __global__ void td_sage_v_amax(float* partial, const void* v, int dt, i64 sb, i64 sh, i64 st, i64 sc,
                                          int heads_per_batch, i64 len, int dv, int chunks) {
    extern __shared__ float sa_dyn[];
    u32* best = (u32*)sa_dyn;
    const int chunk = blockIdx.x, head = blockIdx.y;
    for (int c = threadIdx.x; c < dv; c += blockDim.x) best[c] = 0u;
    __syncthreads();
    const i64 t0 = (i64)chunk * SA_VMAX_TOKENS;
    const int count = (int)min((i64)SA_VMAX_TOKENS, len - t0);
    const i64 base = sa_row(head, heads_per_batch, t0, sb, sh, st);
    if (blockDim.x % dv == 0) {
        const int c = threadIdx.x % dv;
        u32 mine = 0u;
        for (int j = threadIdx.x / dv; j < count; j += blockDim.x / dv) {
            const float a = fabsf(load_float(v, base + (i64)j * st + (i64)c * sc, dt));
            if (a == a) mine = max(mine, __float_as_uint(a));
        }
        atomicMax(&best[c], mine);
    } else {
        for (int e = threadIdx.x; e < count * dv; e += blockDim.x) {
            const int j = e / dv, c = e % dv;
            const float a = fabsf(load_float(v, base + (i64)j * st + (i64)c * sc, dt));
            if (a == a) atomicMax(&best[c], __float_as_uint(a));
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < dv; c += blockDim.x) partial[((i64)head * chunks + chunk) * dv + c] = __uint_as_float(best[c]);
}

// scales[head, c] = max over the chunks of partial / 2.25, or 1 for an all-zero channel (as td_sage_v_scale).
extern "C" __global__ void td_sage_v_scale_reduce(float* scales, const float* partial, int heads, int chunks, int dv) {
    const i64 total = (i64)heads * dv;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const int head = (int)(i / dv), c = (int)(i % dv);
        // Four running maxima keep four loads in flight (the partials are non-negative, never NaN:
        // any order gives the same max).
        const float* col = partial + (i64)head * chunks * dv + c;
        float m0 = 0.0f, m1 = 0.0f, m2 = 0.0f, m3 = 0.0f;
        int n = 0;
        for (; n + 4 <= chunks; n += 4) {
            m0 = fmaxf(m0, col[(i64)n * dv]);
            m1 = fmaxf(m1, col[(i64)(n + 1) * dv]);
            m2 = fmaxf(m2, col[(i64)(n + 2) * dv]);
            m3 = fmaxf(m3, col[(i64)(n + 3) * dv]);
        }
        for (; n < chunks; ++n) m0 = fmaxf(m0, col[(i64)n * dv]);
        const float amax = fmaxf(fmaxf(m0, m1), fmaxf(m2, m3));
        const float s = __fdiv_rn(amax, 2.25f);
        scales[i] = s > 0.0f ? s : 1.0f;
    }
}

// Tokens per tile of td_sage_v_quantize_t (blockK ∈ {64, 128} is a multiple).
#define SG_VT_TOKENS 64

// out [heads, dv, lkp] = f16 of e4m3(v / scale[channel]) (exact), transposed, zero for tokens ≥ len
// (lkp is a multiple of SG_VT_TOKENS). Grid (lkp / SG_VT_TOKENS, heads), 256 threads, dynamic shared
// memory SG_VT_TOKENS·(dv + 1)·2 bytes: the tile is made from v's rows (coalesced reads, channel
// fastest), then written one 32-bit word (2 tokens of one channel) per thread and step. The odd row
// pitch dv + 1 keeps the transposed reads on distinct banks.
extern "C" __global__ void td_sage_v_quantize_t(u16* out, const float* scales, const void* v, int dt,
                                                i64 sb, i64 sh, i64 st, i64 sc, int heads_per_batch, int heads,
                                                i64 len, i64 lkp, int dv) {
    extern __shared__ u16 sg_vt_tile[];
    const int head = blockIdx.y, pitch = dv + 1;
    const i64 k0 = (i64)blockIdx.x * SG_VT_TOKENS;
    const i64 base = sa_row(head, heads_per_batch, 0, sb, sh, st);
    const float* hs = scales + (i64)head * dv;
    auto quantize = [&](float x, int c) { return float_to_half(sa_fp8_float(sa_fp8_bits(__fdiv_rn(x, hs[c])))); };
    if (dt == DT_BF16 && sc == 1 && dv % 8 == 0 && st % 8 == 0 && base % 8 == 0 && ((unsigned long long)v & 15) == 0) {
        // bf16 rows with contiguous channels (the DiT's v): 8 channels per 16-byte load.
        const int groups = dv / 8;
        for (int e = threadIdx.x; e < SG_VT_TOKENS * groups; e += blockDim.x) {
            const int r = e / groups, c0 = (e - r * groups) * 8;
            const i64 tok = k0 + r;
            u16* dst = sg_vt_tile + r * pitch + c0;
            if (tok < len) {
                const uint4 raw = *(const uint4*)((const u16*)v + base + tok * st + c0);
                const u32 w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
                for (int j = 0; j < 8; ++j) dst[j] = quantize(bf16_to_float((u16)(w[j >> 1] >> (16 * (j & 1)))), c0 + j);
            } else {
#pragma unroll
                for (int j = 0; j < 8; ++j) dst[j] = 0;
            }
        }
    } else {
        for (int e = threadIdx.x; e < SG_VT_TOKENS * dv; e += blockDim.x) {
            const int r = e / dv, c = e - r * dv;
            const i64 tok = k0 + r;
            sg_vt_tile[r * pitch + c] = tok < len ? quantize(load_float(v, base + tok * st + (i64)c * sc, dt), c) : (u16)0;
        }
    }
    __syncthreads();
    constexpr int WORDS = SG_VT_TOKENS / 2;
    for (int e = threadIdx.x; e < dv * WORDS; e += blockDim.x) {
        const int c = e / WORDS, w = e - c * WORDS;
        const u32 word = (u32)sg_vt_tile[2 * w * pitch + c] | ((u32)sg_vt_tile[(2 * w + 1) * pitch + c] << 16);
        ((u32*)out)[((i64)head * dv + c) * (lkp / 2) + k0 / 2 + w] = word;
    }
}
