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
        // Unrolled so the loads of 8 tokens are in flight together; the sum stays in token order.
#pragma unroll 8
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

// Thread block (blockIdx.x, head = blockIdx.y) takes query blocks i = rows·blockIdx.x + r, r < rows: scores
// s_j = Σ_c pq[i,c]·pk[j,c] (sequential over c, no FMA), then per query block the `keep` largest in the
// CPU's order (score descending, equal scores by ascending index), written in ascending index order.
// One pass over pkT serves all `rows` query blocks (pkT is read from L2 once per thread block, not once
// per query block). Selection: a radix select over the 32-bit order keys finds the keep-th largest key
// T; all keys above T are taken, and of the keys equal to T the lowest indices. Dynamic shared memory
// only (so the launch's size is the whole need): (rows·(mk + d) + SA_TOPK_EXTRA) · 4 bytes.
#define SA_TOPK_EXTRA (256 + 32 + 2)
// Query blocks per thread block of td_sla_topk (the host lowers it when shared memory is short).
#define SA_TOPK_ROWS 8
extern "C" __global__ void td_sla_topk(int* out, const float* pq, const float* pkT, int mq, int mk, int d, int keep,
                                       int rows) {
    extern __shared__ float sa_dyn[];
    u32* keys = (u32*)sa_dyn;                 // [rows][mk]
    float* qrows = sa_dyn + rows * mk;        // [rows][d]
    u32* hist = (u32*)(qrows + rows * d);
    int* scan_scratch = (int*)(hist + 256);
    u32* selected = (u32*)(scan_scratch + 32);
    const int i0 = blockIdx.x * rows, head = blockIdx.y;
    const int count = min(rows, mq - i0);
    if (count <= 0) return;
    for (int e = threadIdx.x; e < rows * d; e += blockDim.x) {
        const int r = e / d;
        qrows[e] = r < count ? pq[((i64)head * mq + i0 + r) * d + e % d] : 0.0f;
    }
    __syncthreads();
    const float* pk = pkT + (i64)head * d * mk;
    for (int j = threadIdx.x; j < mk; j += blockDim.x) {
        float s[SA_TOPK_ROWS];
#pragma unroll
        for (int r = 0; r < SA_TOPK_ROWS; ++r) s[r] = 0.0f;
#pragma unroll 4
        for (int c = 0; c < d; ++c) {
            const float w = pk[(i64)c * mk + j];
#pragma unroll
            for (int r = 0; r < SA_TOPK_ROWS; ++r)
                if (r < rows) s[r] = __fadd_rn(s[r], __fmul_rn(qrows[r * d + c], w));
        }
#pragma unroll
        for (int r = 0; r < SA_TOPK_ROWS; ++r)
            if (r < rows) keys[r * mk + j] = sa_order_key(s[r]);
    }
    __syncthreads();
    const int lane = threadIdx.x & 31;
    for (int r = 0; r < count; ++r) {
        const u32* rkeys = keys + r * mk;
        u32 prefix = 0, mask = 0, remaining = (u32)keep;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
            __syncthreads();
            for (int j = threadIdx.x; j < mk; j += blockDim.x) {
                const u32 u = rkeys[j];
                if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
            }
            __syncthreads();
            // The digit: the highest bin b at which the count of candidates in bins ≥ b reaches
            // `remaining` (bin 0 if no higher one does). Lane l of warp 0 holds bins 255 − 8l down to
            // 248 − 8l; a warp scan gives the candidates above each lane's bins.
            if (threadIdx.x < 32) {
                const int top = 255 - 8 * lane;
                u32 mine = 0;
#pragma unroll
                for (int b = 0; b < 8; ++b) mine += hist[top - b];
                u32 incl = mine;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const u32 y = __shfl_up_sync(0xffffffffu, incl, o);
                    if (lane >= o) incl += y;
                }
                const u32 reached = __ballot_sync(0xffffffffu, incl >= remaining);
                const int owner = reached ? __ffs(reached) - 1 : 31;
                if (lane == owner) {
                    u32 above = incl - mine;
                    int b = top;
                    for (; b > top - 7; --b) {
                        if (above + hist[b] >= remaining) break;
                        above += hist[b];
                    }
                    selected[0] = prefix | ((u32)b << shift);
                    selected[1] = remaining - above;
                }
            }
            __syncthreads();
            prefix = selected[0];
            remaining = selected[1];
            mask |= 255u << shift;
            __syncthreads();
        }
        // prefix = T; `remaining` (≥ 1) keys equal to T are taken, the lowest indices first.
        int* row = out + ((i64)head * mq + i0 + r) * keep;
        int equal_carry = 0, taken_carry = 0;
        for (int base = 0; base < mk; base += blockDim.x) {
            const int j = base + threadIdx.x;
            const u32 u = j < mk ? rkeys[j] : 0u;
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
// sum per row), P·V into per-thread 4×4 register tiles. Output in odt: row t of head (b, h) at
// out + b·osb + h·osh + t·osl, its dv elements contiguous (osb/osh/osl are element strides; the
// backend passes a [B, L, H, dv] buffer viewed as [B, H, L, dv]).
// Dynamic shared memory (floats): SA_ROWS·(d+1) + SA_KEYS·(d+1) + SA_KEYS·dv + SA_ROWS·(SA_KEYS+1) + 3·SA_ROWS.
extern "C" __global__ void td_block_sparse_attention(
    void* out, int odt,
    const void* q, int qdt, i64 qsb, i64 qsh, i64 qst, i64 qsc,
    const void* k, int kdt, i64 ksb, i64 ksh, i64 kst, i64 ksc,
    const void* v, int vdt, i64 vsb, i64 vsh, i64 vst, i64 vsc,
    const int* blocks, int heads_per_batch, i64 lq, i64 lk, int d, int dv,
    int block_q, int block_k, int keep, int mq, int mk, float scale, i64 osb, i64 osh, i64 osl) {
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
            const i64 orow = sa_row(head, heads_per_batch, r0 + r, osb, osh, osl);
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int c = t.cg * 4 + b;
                if (c < dv) store_float(out, orow + c, odt, acc[n][a][b] / sum);
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

// The same mean (same order: one sequential fp32 sum per channel) fed by a cp.async ring instead of
// staging by hand: SA_MEAN_STAGES stages of SA_MEAN_STAGE_TOKENS tokens × 32 channels in k's own
// type, so ~750 tokens are in flight while warp 0 sums; the sum, one dependent add per token, is
// then the kernel's whole cost. Needs sm_80, channel stride 1, d a multiple of 32 and 16-byte
// aligned row segments (the host checks; else td_sla_key_mean_staged). Grid (d/32, heads),
// SA_THREADS threads, dynamic shared memory SA_MEAN_STAGES · SA_MEAN_STAGE_TOKENS · 32 · sizeof(T).
// Long stages keep the per-stage wait and barrier (~300 cycles) small beside the stage's 256
// dependent adds; with 64-token stages they doubled the time per token (17 cycles, Nsight Compute).
#define SA_MEAN_STAGES 4
#define SA_MEAN_STAGE_TOKENS 256

__device__ __forceinline__ void sa_cp_async16(u32 dst, const void* src, u32 src_bytes) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
#endif
}

__device__ __forceinline__ void sa_cp_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed cp.async groups are pending.
template <int N>
__device__ __forceinline__ void sa_cp_wait() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

extern "C" __global__ void td_sla_key_mean_async(float* mean, const void* k, int dt, i64 sb, i64 sh, i64 st,
                                                 int heads_per_batch, i64 len) {
    extern __shared__ __attribute__((aligned(16))) unsigned char sa_ring[];
    const int es = dt == DT_F32 ? 4 : 2;
    const int segment = 32 * es, pieces = segment / 16;         // bytes and 16-byte copies per token
    const int stage_bytes = SA_MEAN_STAGE_TOKENS * segment;
    const int c0 = blockIdx.x * 32, head = blockIdx.y, d = gridDim.x * 32;
    const char* base = (const char*)k + (sa_row(head, heads_per_batch, 0, sb, sh, st) + c0) * es;
    const i64 row_bytes = st * es;
    const i64 chunks = (len + SA_MEAN_STAGE_TOKENS - 1) / SA_MEAN_STAGE_TOKENS;
    u32 ring;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(ring) : "l"(sa_ring));
    // Copies chunk n into stage n % SA_MEAN_STAGES (tokens past the end are zero filled) and commits a
    // group, empty past the last chunk, so every thread's group count is the same.
    auto issue = [&](i64 n) {
        if (n < chunks) {
            const i64 t0 = n * SA_MEAN_STAGE_TOKENS;
            const u32 dst = ring + (u32)((n % SA_MEAN_STAGES) * stage_bytes);
            for (int e = threadIdx.x; e < SA_MEAN_STAGE_TOKENS * pieces; e += blockDim.x) {
                const int j = e / pieces, p = e % pieces;
                const bool inside = t0 + j < len;
                sa_cp_async16(dst + (u32)(j * segment + p * 16), inside ? base + (t0 + j) * row_bytes + p * 16 : base,
                              inside ? 16u : 0u);
            }
        }
        sa_cp_commit();
    };
    for (int n = 0; n < SA_MEAN_STAGES - 1; ++n) issue(n);
    float s = 0.0f;
    for (i64 n = 0; n < chunks; ++n) {
        sa_cp_wait<SA_MEAN_STAGES - 2>();   // this thread's copies of chunk n landed
        __syncthreads();                    // everyone's have; warp 0 is done with chunk n − 1
        issue(n + SA_MEAN_STAGES - 1);      // into the stage of chunk n − 1
        if (threadIdx.x < 32) {
            const int count = (int)min((i64)SA_MEAN_STAGE_TOKENS, len - n * SA_MEAN_STAGE_TOKENS);
            const unsigned char* stage = sa_ring + (n % SA_MEAN_STAGES) * stage_bytes;
            if (dt == DT_F32) {
                const float* x = (const float*)stage + threadIdx.x;
#pragma unroll 16
                for (int j = 0; j < count; ++j) s = __fadd_rn(s, x[j * 32]);
            } else if (dt == DT_BF16) {
                const u16* x = (const u16*)stage + threadIdx.x;
#pragma unroll 16
                for (int j = 0; j < count; ++j) s = __fadd_rn(s, bf16_to_float(x[j * 32]));
            } else {
                const u16* x = (const u16*)stage + threadIdx.x;
#pragma unroll 16
                for (int j = 0; j < count; ++j) s = __fadd_rn(s, half_to_float(x[j * 32]));
            }
        }
    }
    if (threadIdx.x < 32) mean[(i64)head * d + c0 + threadIdx.x] = __fdiv_rn(s, (float)len);
}
