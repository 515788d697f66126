// Sparse-linear attention (docs/dit.md): the SLA block map and block-sparse softmax attention on
// CUDA cores (the tensor-core kernel for bf16/f16 is td_fa2_sparse in flash_attention.cu);
// sage_attention.cu holds SageSLA's 8-bit branch. CPUBackend (SparseAttention.swift) defines the
// results; CUDABackend+SparseAttention.swift launches these kernels.
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

// ---------------------------------------------------------------------------------------------
// Block map

// Block means of x − shift (shift [heads, d] or null): Σ over the block's tokens in order, divided
// by the block's real token count. transposed = 0: out [heads, nblocks, d]; 1: out [heads, d, nblocks].
extern "C" __global__ void td_sla_pool(float* out, const void* x, int dt, i64 sb, i64 sh, i64 st, i64 sc,
                                       int heads_per_batch, int heads, i64 len, int d, int block, int nblocks,
                                       const float* shift, int transposed) {
    const i64 total = (i64)heads * nblocks * d;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)(i % d);
        const i64 hb = i / d;
        const int b = (int)(hb % nblocks), head = (int)(hb / nblocks);
        const i64 t0 = (i64)b * block, t1 = min(len, t0 + block);
        const i64 base = sa_row(head, heads_per_batch, 0, sb, sh, st) + c * sc;
        const float sub = shift ? shift[(i64)head * d + c] : 0.0f;
        float s = 0.0f;
        for (i64 t = t0; t < t1; ++t) s = __fadd_rn(s, __fsub_rn(load_float(x, base + t * st, dt), sub));
        s = __fdiv_rn(s, (float)(t1 - t0));
        out[transposed ? ((i64)head * d + c) * nblocks + b : i] = s;
    }
}

// Exclusive prefix sum over the block of one int per thread (blockDim.x a multiple of 32, ≤ 1024);
// *total receives the block's sum. `scratch` holds 32 ints of shared memory.
__device__ int sa_block_exclusive_scan(int v, int* scratch, int* total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    __syncthreads();
    if (lane == 31) scratch[warp] = x;
    __syncthreads();
    if (warp == 0) {
        int w = lane < warps ? scratch[lane] : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += y;
        }
        scratch[lane] = w;   // inclusive warp totals
    }
    __syncthreads();
    const int before = (warp > 0 ? scratch[warp - 1] : 0) + x - v;
    *total = scratch[warps - 1];
    __syncthreads();
    return before;
}

// Float → unsigned key with the float order (−0 and +0 equal, as the CPU's comparison treats them).
__device__ __forceinline__ u32 sa_order_key(float s) {
    u32 u = __float_as_uint(s == 0.0f ? 0.0f : s);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// One thread block per (query block i = blockIdx.x, head = blockIdx.y): scores s_j = Σ_c pq[i,c]·pk[j,c]
// (sequential over c, no FMA), then the `keep` largest in the CPU's order (score descending, equal
// scores by ascending index), written in ascending index order. Selection: a radix select over the
// 32-bit order keys finds the keep-th largest key T; all keys above T are taken, and of the keys equal
// to T the lowest indices. Dynamic shared memory only (so the launch's size is the whole need):
// (mk + d + SA_TOPK_EXTRA) · 4 bytes.
#define SA_TOPK_EXTRA (256 + 32 + 2)
extern "C" __global__ void td_sla_topk(int* out, const float* pq, const float* pkT, int mq, int mk, int d, int keep) {
    extern __shared__ float sa_dyn[];
    u32* keys = (u32*)sa_dyn;
    float* qrow = sa_dyn + mk;
    u32* hist = (u32*)(qrow + d);
    int* scan_scratch = (int*)(hist + 256);
    u32* selected = (u32*)(scan_scratch + 32);
    const int i = blockIdx.x, head = blockIdx.y;
    if (i >= mq) return;
    for (int c = threadIdx.x; c < d; c += blockDim.x) qrow[c] = pq[((i64)head * mq + i) * d + c];
    __syncthreads();
    const float* pk = pkT + (i64)head * d * mk;
    for (int j = threadIdx.x; j < mk; j += blockDim.x) {
        float s = 0.0f;
        for (int c = 0; c < d; ++c) s = __fadd_rn(s, __fmul_rn(qrow[c], pk[(i64)c * mk + j]));
        keys[j] = sa_order_key(s);
    }
    u32 prefix = 0, mask = 0, remaining = (u32)keep;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (int j = threadIdx.x; j < mk; j += blockDim.x) {
            const u32 u = keys[j];
            if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            u32 above = 0;
            int b = 255;
            for (; b > 0; --b) {
                if (above + hist[b] >= remaining) break;
                above += hist[b];
            }
            selected[0] = prefix | ((u32)b << shift);
            selected[1] = remaining - above;
        }
        __syncthreads();
        prefix = selected[0];
        remaining = selected[1];
        mask |= 255u << shift;
        __syncthreads();
    }
    // prefix = T; `remaining` (≥ 1) keys equal to T are taken, the lowest indices first.
    int* row = out + ((i64)head * mq + i) * keep;
    int equal_carry = 0, taken_carry = 0;
    for (int base = 0; base < mk; base += blockDim.x) {
        const int j = base + threadIdx.x;
        const u32 u = j < mk ? keys[j] : 0u;
        const int equal = (j < mk && u == prefix) ? 1 : 0;
        int equal_total, taken_total;
        const int equal_before = equal_carry + sa_block_exclusive_scan(equal, scan_scratch, &equal_total);
        const int take = (j < mk && (u > prefix || (equal && (u32)equal_before < remaining))) ? 1 : 0;
        const int position = taken_carry + sa_block_exclusive_scan(take, scan_scratch, &taken_total);
        if (take && position < keep) row[position] = j;
        equal_carry += equal_total;
        taken_carry += taken_total;
    }
}

// ---------------------------------------------------------------------------------------------
// Block-sparse softmax attention (fp32)

// Accumulator tile τ of a thread: rows 4·rg.., channels 4·cg.. of the SA_ROWS × dv output chunk.
struct SaTile { int rg, cg; bool valid; };

__device__ __forceinline__ SaTile sa_tile(int n, int col_groups, int row_groups) {
    const int tau = threadIdx.x + n * SA_THREADS;
    SaTile t;
    t.rg = tau / col_groups;
    t.cg = tau - t.rg * col_groups;
    t.valid = t.rg < row_groups;
    return t;
}

// Grid (mq · ⌈blockQ/SA_ROWS⌉, heads), SA_THREADS threads. Each thread block takes up to SA_ROWS query
// rows of one query block and visits the key blocks listed in blocks[head, qb, :] in order (indices
// outside 0..<mk are skipped), SA_KEYS keys at a time: scores in fp32, online softmax (running max and
// sum per row), P·V into per-thread 4×4 register tiles. Output [heads, lq, dv] in odt.
// Dynamic shared memory (floats): SA_ROWS·(d+1) + SA_KEYS·(d+1) + SA_KEYS·dv + SA_ROWS·(SA_KEYS+1) + 3·SA_ROWS.
extern "C" __global__ void td_block_sparse_attention(
    void* out, int odt,
    const void* q, int qdt, i64 qsb, i64 qsh, i64 qst, i64 qsc,
    const void* k, int kdt, i64 ksb, i64 ksh, i64 kst, i64 ksc,
    const void* v, int vdt, i64 vsb, i64 vsh, i64 vst, i64 vsc,
    const int* blocks, int heads_per_batch, i64 lq, i64 lk, int d, int dv,
    int block_q, int block_k, int keep, int mq, int mk, float scale) {
    extern __shared__ float sa_dyn[];
    const int chunks = (block_q + SA_ROWS - 1) / SA_ROWS;
    const int qb = blockIdx.x / chunks, chunk = blockIdx.x % chunks, head = blockIdx.y;
    const i64 r0 = (i64)qb * block_q + (i64)chunk * SA_ROWS;
    const int rows = (int)min((i64)min(SA_ROWS, block_q - chunk * SA_ROWS), lq - r0);
    if (qb >= mq || rows <= 0) return;

    float* qs = sa_dyn;                                  // [SA_ROWS][d+1]
    float* ks = qs + SA_ROWS * (d + 1);                  // [SA_KEYS][d+1]
    float* vs = ks + SA_KEYS * (d + 1);                  // [SA_KEYS][dv]
    float* ss = vs + SA_KEYS * dv;                       // [SA_ROWS][SA_KEYS+1]
    float* row_max = ss + SA_ROWS * (SA_KEYS + 1);
    float* row_sum = row_max + SA_ROWS;
    float* row_alpha = row_sum + SA_ROWS;

    const i64 qbase = sa_row(head, heads_per_batch, 0, qsb, qsh, qst);
    const i64 kbase = sa_row(head, heads_per_batch, 0, ksb, ksh, kst);
    const i64 vbase = sa_row(head, heads_per_batch, 0, vsb, vsh, vst);
    for (int e = threadIdx.x; e < rows * d; e += SA_THREADS) {
        const int r = e / d, c = e % d;
        qs[r * (d + 1) + c] = load_float(q, qbase + (r0 + r) * qst + c * qsc, qdt);
    }
    for (int r = threadIdx.x; r < SA_ROWS; r += SA_THREADS) {
        row_max[r] = -__int_as_float(0x7f800000);
        row_sum[r] = 0.0f;
    }
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
        const i64 k0 = (i64)blk * block_k, k1 = min(lk, k0 + block_k);
        for (i64 c0 = k0; c0 < k1; c0 += SA_KEYS) {
            const int kc = (int)min((i64)SA_KEYS, k1 - c0);
            __syncthreads();   // the previous chunk's ks/vs/ss are no longer read
            for (int e = threadIdx.x; e < kc * d; e += SA_THREADS) {
                const int j = e / d, c = e % d;
                ks[j * (d + 1) + c] = load_float(k, kbase + (c0 + j) * kst + c * ksc, kdt);
            }
            for (int e = threadIdx.x; e < kc * dv; e += SA_THREADS) {
                const int j = e / dv, c = e % dv;
                vs[j * dv + c] = load_float(v, vbase + (c0 + j) * vst + c * vsc, vdt);
            }
            __syncthreads();
            for (int e = threadIdx.x; e < rows * kc; e += SA_THREADS) {
                const int r = e / kc, j = e % kc;
                const float* qr = qs + r * (d + 1);
                const float* kr = ks + j * (d + 1);
                float s = 0.0f;
                for (int c = 0; c < d; ++c) s += qr[c] * kr[c];
                ss[r * (SA_KEYS + 1) + j] = s * scale;
            }
            __syncthreads();
            for (int r = threadIdx.x; r < rows; r += SA_THREADS) {
                float* sr = ss + r * (SA_KEYS + 1);
                float m = row_max[r];
                for (int j = 0; j < kc; ++j) m = fmaxf(m, sr[j]);
                const float old = row_max[r];
                const float alpha = old == -__int_as_float(0x7f800000) ? 0.0f : expf(old - m);
                float sum = 0.0f;
                for (int j = 0; j < kc; ++j) {
                    const float p = expf(sr[j] - m);
                    sr[j] = p;
                    sum += p;
                }
                row_sum[r] = row_sum[r] * alpha + sum;
                row_max[r] = m;
                row_alpha[r] = alpha;
            }
            __syncthreads();
#pragma unroll
            for (int n = 0; n < SA_TILES; ++n) {
                const SaTile t = sa_tile(n, col_groups, row_groups);
                if (!t.valid) continue;
                float alpha[4];
                int rr[4];
#pragma unroll
                for (int a = 0; a < 4; ++a) {
                    rr[a] = min(t.rg * 4 + a, rows - 1);   // rows past the chunk repeat the last row (never stored)
                    alpha[a] = row_alpha[rr[a]];
#pragma unroll
                    for (int b = 0; b < 4; ++b) acc[n][a][b] *= alpha[a];
                }
                int cc[4];
#pragma unroll
                for (int b = 0; b < 4; ++b) cc[b] = min(t.cg * 4 + b, dv - 1);
                for (int j = 0; j < kc; ++j) {
                    float p[4], w[4];
#pragma unroll
                    for (int a = 0; a < 4; ++a) p[a] = ss[rr[a] * (SA_KEYS + 1) + j];
#pragma unroll
                    for (int b = 0; b < 4; ++b) w[b] = vs[j * dv + cc[b]];
#pragma unroll
                    for (int a = 0; a < 4; ++a)
#pragma unroll
                        for (int b = 0; b < 4; ++b) acc[n][a][b] += p[a] * w[b];
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
                if (c < dv) store_float(out, ((i64)head * lq + r0 + r) * dv + c, odt, acc[n][a][b] / sum);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Token mean of k (the block map's smoothing, also SageSLA's k − mean(k))


// mean[head, c] = (Σ_t k[head, t, c]) / L summed sequentially over t (the CPU's order: the block map's
// selection is bit-exact only with it), but with the tokens staged through shared memory by the whole
// block so the one summing warp never waits on global memory. Grid (⌈d/32⌉, heads), SA_THREADS threads;
// lane c of warp 0 sums channel 32·blockIdx.x + c. Static shared memory: 2 × SA_MEAN_TOKENS × 33 floats.
#define SA_MEAN_TOKENS 64
extern "C" __global__ void td_sla_key_mean_staged(float* mean, const void* k, int dt, i64 sb, i64 sh, i64 st, i64 sc,
                                                  int heads_per_batch, i64 len, int d) {
    __shared__ float tile[2][SA_MEAN_TOKENS][33];
    const int c0 = blockIdx.x * 32, head = blockIdx.y;
    const int width = min(32, d - c0);
    const i64 base = sa_row(head, heads_per_batch, 0, sb, sh, st);
    const i64 chunks = (len + SA_MEAN_TOKENS - 1) / SA_MEAN_TOKENS;
    float s = 0.0f;
    for (i64 n = 0; n <= chunks; ++n) {
        // Stage chunk n into buffer n & 1 while warp 0 sums chunk n − 1 from the other buffer.
        if (n < chunks) {
            const i64 t0 = n * SA_MEAN_TOKENS;
            for (int e = threadIdx.x; e < SA_MEAN_TOKENS * 32; e += SA_THREADS) {
                const int j = e >> 5, c = e & 31;
                const i64 tok = t0 + j;
                tile[n & 1][j][c] = (c < width && tok < len) ? load_float(k, base + tok * st + (i64)(c0 + c) * sc, dt) : 0.0f;
            }
        }
        if (n > 0 && threadIdx.x < 32) {
            const i64 t0 = (n - 1) * SA_MEAN_TOKENS;
            const int count = (int)min((i64)SA_MEAN_TOKENS, len - t0);
            const float (*buf)[33] = tile[(n - 1) & 1];
            for (int j = 0; j < count; ++j) s = __fadd_rn(s, buf[j][threadIdx.x]);
        }
        __syncthreads();
    }
    if (threadIdx.x < width) mean[(i64)head * d + c0 + threadIdx.x] = __fdiv_rn(s, (float)len);
}
