// W8A8 matrix product (docs/dit.md), bit for bit as CPUBackend.quantizedMatmul: x [M, K] is quantised
// per 128 × 128 block (scale = amax/128, round to nearest even, saturate to [-128, 127]); the int32
// dot product of each 128-wide K block is exact; y = Σ_kb float(partial)·(sx·sw) in ascending kb, the
// block scale sx·sw rounded once and each step one fused multiply-add (upstream's epilogue as nvcc
// compiles it; qm_scale, qm_step), then + bias.
//
// Operands of the products: xq [M, kp] and w [N, kp] int8, row-major, kp = K rounded up to 16
// (columns K..kp-1 zero), both 16-byte aligned. sx [⌈M/128⌉, kb], sw [⌈N/128⌉, kb] f32, kb = ⌈K/128⌉.
//
// Compiled after the primitives of flash_attention.cu (cp.async, ldmatrix, the dynamic shared
// memory base) and hopper_attention.cu (wgmma fences, mbarriers). Host side:
// CUDABackend+QuantizedMatmul.swift; scripts/cuda/bench_w8a8.py checks and times every kernel here and
// td_w8a8_gemm_wgmma of quantized_matmul_wgmma.cu (compiled after this file, same family).

#define QM_BLOCK 128

// Grid (kb, ⌈M/128⌉), any block size that is a multiple of 32: one 128 × 128 block of x (dense
// [M, K], dtype dt) → xq (with the zero padding up to kp) and its scale sx[mb, cb].
extern "C" __global__ void td_w8a8_quantize(signed char* xq, float* sx, const void* x, int dt, i64 m, i64 k, i64 kp, int kb) {
    __shared__ float scratch[32];
    const int cb = blockIdx.x;
    const i64 mb = blockIdx.y;
    const i64 r0 = mb * QM_BLOCK, c0 = (i64)cb * QM_BLOCK;
    const int rows = (int)min((i64)QM_BLOCK, m - r0);
    const int cols = (int)min((i64)QM_BLOCK, k - c0);
    const int padded = (int)min((i64)QM_BLOCK, kp - c0);
    float amax = 0.0f;
    for (int e = threadIdx.x; e < rows * cols; e += blockDim.x) {
        const int r = e / cols, c = e % cols;
        amax = fmaxf(amax, fabsf(load_float(x, (r0 + r) * k + c0 + c, dt)));
    }
    amax = block_max(amax, scratch);
    const float scale = __fdiv_rn(amax, 128.0f);
    if (threadIdx.x == 0) sx[mb * kb + cb] = scale;
    for (int e = threadIdx.x; e < rows * padded; e += blockDim.x) {
        const int r = e / padded, c = e % padded;
        int value = 0;
        if (c < cols && scale > 0.0f) {
            value = __float2int_rn(__fdiv_rn(load_float(x, (r0 + r) * k + c0 + c, dt), scale));
            value = max(-128, min(127, value));
        }
        xq[(r0 + r) * kp + c0 + c] = (signed char)value;
    }
}

// A staged 128 × 128-byte operand tile: row r's 16-byte chunk c at chunk c ^ (r & 7), so the eight
// rows an ldmatrix phase reads (same logical chunk) land on eight different bank groups; also the
// layout of wgmma's 128-byte swizzle (td_w8a8_tile, the tiled output of td_w8a8_quantize_block).
__device__ __forceinline__ u32 qm_swizzle(int row, int chunk) {
    return (u32)(row * QM_BLOCK + ((chunk ^ (row & 7)) << 4));
}

// One value of a block with scale `scale` (0 when the block is all zeros): the exact operations of
// td_w8a8_quantize. Zero input (the padding columns, GELU's negative tail) gives 0 without the
// division (its fast path's range check sends a zero dividend to the slow path).
__device__ __forceinline__ int qm_quantize(float v, float scale) {
    if (!(scale > 0.0f) || v == 0.0f) return 0;
    return max(-128, min(127, __float2int_rn(__fdiv_rn(v, scale))));
}

// Element e (0–7) of 8 packed 16-bit values.
__device__ __forceinline__ float qm_half_at(const uint4& v, int e, int dt) {
    const u32 word = e < 2 ? v.x : e < 4 ? v.y : e < 6 ? v.z : v.w;
    const u16 h = (u16)((e & 1) ? word >> 16 : word & 0xFFFFu);
    return dt == DT_BF16 ? bf16_to_float(h) : half_to_float(h);
}

// Same result as td_w8a8_quantize, same grid (kb, ⌈M/128⌉), 256 threads exactly, one read of x: the
// block stays in registers between the amax and the quantisation. bf16/f16 with K % 8 == 0 and x
// 16-byte aligned: thread t loads 16-byte chunk t % 16 of rows t / 16 + 16i (i < 8) and writes 8
// bytes per row; anything else: column t % 128 of rows t / 128 + 2i (i < 64), one element each.
// Out-of-range columns up to kp load as zero and quantise to zero; the max over |x| does not
// depend on the order of its terms (fmaxf ignores NaN; amax starts at +0).
// `tiled`: xq is written as td_w8a8_tile would lay out the row-major result (block (mb, cb) as the
// swizzled 16 KiB tile at (mb·kb + cb)·16 KiB, rows past M and columns past kp zero; the operand of
// td_w8a8_gemm_wgmma192), every byte of the tile written.
extern "C" __global__ void __launch_bounds__(256) td_w8a8_quantize_block(signed char* xq, float* sx, const void* x, int dt,
                                                                         i64 m, i64 k, i64 kp, int kb, int tiled) {
    __shared__ float scratch[32];
    const int cb = blockIdx.x;
    const i64 mb = blockIdx.y;
    const i64 r0 = mb * QM_BLOCK, c0 = (i64)cb * QM_BLOCK;
    const int rows = (int)min((i64)QM_BLOCK, m - r0);
    const int cols = (int)min((i64)QM_BLOCK, k - c0);
    const int padded = (int)min((i64)QM_BLOCK, kp - c0);
    float amax = 0.0f;
    if (dt != DT_F32 && (k & 7) == 0 && ((u64)x & 15) == 0) {
        const int c = (threadIdx.x & 15) * 8, rr = threadIdx.x >> 4;
        const u16* xs = (const u16*)x;
        uint4 v[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int r = rr + 16 * i;
            v[i] = make_uint4(0, 0, 0, 0);
            if (r < rows && c < cols) v[i] = *(const uint4*)(xs + (r0 + r) * k + c0 + c);   // cols % 8 == 0
#pragma unroll
            for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(qm_half_at(v[i], e, dt)));
        }
        amax = block_max(amax, scratch);
        const float scale = __fdiv_rn(amax, 128.0f);
        if (threadIdx.x == 0) sx[mb * kb + cb] = scale;
        // padded − cols is 0 or 8: a chunk is all inside or all outside (then zeros, written only when tiled).
        if (c >= padded && !tiled) return;
        signed char* tile = xq + (mb * kb + cb) * (i64)(QM_BLOCK * QM_BLOCK);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int r = rr + 16 * i;
            if (r >= rows && !tiled) break;
            u32 lo = 0, hi = 0;
#pragma unroll
            for (int e = 0; e < 4; ++e) {   // zero-filled v of absent rows/columns quantises to 0
                lo |= ((u32)qm_quantize(qm_half_at(v[i], e, dt), scale) & 0xFFu) << (8 * e);
                hi |= ((u32)qm_quantize(qm_half_at(v[i], e + 4, dt), scale) & 0xFFu) << (8 * e);
            }
            signed char* dst = tiled ? tile + qm_swizzle(r, c >> 4) + (c & 15) : xq + (r0 + r) * kp + c0 + c;
            *(uint2*)dst = make_uint2(lo, hi);   // kp % 16 == 0, c % 8 == 0
        }
    } else {
        const int c = threadIdx.x & 127, rr = threadIdx.x >> 7;
        float v[64];
#pragma unroll
        for (int i = 0; i < 64; ++i) {
            const int r = rr + 2 * i;
            v[i] = r < rows && c < cols ? load_float(x, (r0 + r) * k + c0 + c, dt) : 0.0f;
            amax = fmaxf(amax, fabsf(v[i]));
        }
        amax = block_max(amax, scratch);
        const float scale = __fdiv_rn(amax, 128.0f);
        if (threadIdx.x == 0) sx[mb * kb + cb] = scale;
        if (tiled) {
            signed char* tile = xq + (mb * kb + cb) * (i64)(QM_BLOCK * QM_BLOCK);
#pragma unroll
            for (int i = 0; i < 64; ++i) {
                const int r = rr + 2 * i;
                tile[qm_swizzle(r, c >> 4) + (c & 15)] = (signed char)qm_quantize(v[i], scale);
            }
            return;
        }
        if (c >= padded) return;
#pragma unroll
        for (int i = 0; i < 64; ++i) {
            const int r = rr + 2 * i;
            if (r < rows) xq[(r0 + r) * kp + c0 + c] = (signed char)qm_quantize(v[i], scale);
        }
    }
}

// out [n, kp] = w [n, k] with zero columns k..kp-1 (weights whose rows are not 16-byte aligned).
extern "C" __global__ void td_w8a8_pad_weight(signed char* out, const signed char* w, i64 n, i64 k, i64 kp) {
    const i64 total = n * kp;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const i64 r = i / kp, c = i % kp;
        out[i] = c < k ? w[r * k + c] : (signed char)0;
    }
}

// One K block folded into the fp32 sum: acc + float(p)·s with s = sx·sw rounded once and one fused
// multiply-add (upstream's epilogue `acc += float(p) * (sa * sb)` as nvcc contracts it; the CPU's
// `addingProduct`). qm_scale is the block's s; every kernel here computes it the same way.
__device__ __forceinline__ float qm_scale(float sx, float sw) { return __fmul_rn(sx, sw); }

__device__ __forceinline__ float qm_step(float acc, int partial, float s) {
    return __fmaf_rn((float)partial, s, acc);
}

__device__ __forceinline__ void qm_store(void* out, int odt, const void* bias, int bdt, i64 row, i64 col, i64 n, float v) {
    if (bias) v = __fadd_rn(v, load_float(bias, col, bdt));
    store_float(out, row * n + col, odt, v);
}

// dp4a path (any sm_61+; used for few rows): grid (⌈N/8⌉, ⌈M/16⌉), 256 threads. Warp w owns output
// column n = 8·blockIdx.x + w and rows 16·blockIdx.y..+16; per K block each lane takes 4 bytes, the
// exact int32 partial is the warp's sum (xor butterfly: every lane holds it).
extern "C" __global__ void td_w8a8_gemm_dp4a(void* out, int odt, const signed char* xq, const float* sx,
                                             const signed char* w, const float* sw, const void* bias, int bdt,
                                             i64 m, i64 n, i64 kp, int kb) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const i64 col = (i64)blockIdx.x * 8 + warp;
    const i64 r0 = (i64)blockIdx.y * 16;
    if (col >= n) return;   // whole warp; no block-wide synchronisation below
    float acc[16];
#pragma unroll
    for (int r = 0; r < 16; ++r) acc[r] = 0.0f;
    const signed char* wrow = w + col * kp;
    for (int b = 0; b < kb; ++b) {
        const i64 kk = (i64)b * QM_BLOCK + lane * 4;
        const bool valid = kk < kp;
        const int wv = valid ? *(const int*)(wrow + kk) : 0;
        const float swv = sw[(col / QM_BLOCK) * kb + b];
#pragma unroll
        for (int r = 0; r < 16; ++r) {
            const i64 row = r0 + r;
            if (row >= m) break;   // uniform over the warp
            const int xv = valid ? *(const int*)(xq + row * kp + kk) : 0;
            int partial;
            asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(partial) : "r"(xv), "r"(wv), "r"(0));
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) partial += __shfl_xor_sync(0xffffffffu, partial, o);
            acc[r] = qm_step(acc[r], partial, qm_scale(sx[(row / QM_BLOCK) * kb + b], swv));
        }
    }
#pragma unroll
    for (int r = 0; r < 16; ++r) {
        const i64 row = r0 + r;
        if (lane == r && row < m) qm_store(out, odt, bias, bdt, row, col, n, acc[r]);
    }
}

// A warp's 64 × 32 int32 tile of one K block (4 × 4 m16n8k32 fragments), shared by
// td_w8a8_gemm_mma and td_w8a8_gemm_pipe: zeroed before the block, then one k32 step per call.
__device__ __forceinline__ void qm_zero_warp_tile(int (&part)[4][4][4]) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) part[i][j][e] = 0;
}

__device__ __forceinline__ void qm_mma_warp_tile(int (&part)[4][4][4], const u32 (&af)[4][4], const u32 (&bf)[4][2]) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
                         "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                         : "+r"(part[i][j][0]), "+r"(part[i][j][1]), "+r"(part[i][j][2]), "+r"(part[i][j][3])
                         : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]),
                           "r"(bf[j][0]), "r"(bf[j][1]));
        }
}

// Tensor-core path (sm_80+): mma.sync m16n8k32 s8·s8 → s32. Grid (⌈N/128⌉, ⌈M/128⌉), 256 threads:
// the 128 × 128 output tile of one (row block, column block) pair, so each tile has a single sx/sw
// row. Per K block the 128 × 128 byte slices of xq and w are staged in shared memory (rows padded to
// 144 bytes: fragment loads are free of bank conflicts); 8 warps as 2 (M) × 4 (N), each 64 × 32 =
// 4 × 4 mma tiles with int32 accumulators that are folded into the fp32 sums after every K block.
// Fragments (PTX ISA, m16n8k32 .s8; g = lane/4, t = lane%4): a0 = A[g][4t..4t+3], a1 = A[g+8][4t..],
// a2 = A[g][16+4t..], a3 = A[g+8][16+4t..]; b0 = B[4t..4t+3][g], b1 = B[16+4t..][g] (B column-major
// = w's rows); c0,c1 = C[g][2t, 2t+1], c2,c3 = C[g+8][2t, 2t+1].
#define QM_LD 36   // words per staged row (128 bytes + 16 padding)
extern "C" __global__ void __launch_bounds__(256) td_w8a8_gemm_mma(
    void* out, int odt, const signed char* xq, const float* sx, const signed char* w, const float* sw,
    const void* bias, int bdt, i64 m, i64 n, i64 kp, int kb) {
#if __CUDA_ARCH__ >= 800
    __shared__ __align__(16) u32 as[QM_BLOCK * QM_LD];
    __shared__ __align__(16) u32 bs[QM_BLOCK * QM_LD];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int wm = warp >> 2, wn = warp & 3;
    const i64 r0 = (i64)blockIdx.y * QM_BLOCK, c0 = (i64)blockIdx.x * QM_BLOCK;
    float acc[4][4][4];
    int part[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

    for (int b = 0; b < kb; ++b) {
        const i64 k0 = (i64)b * QM_BLOCK;
        __syncthreads();   // the previous K block's tiles are no longer read
        // 128 rows × 8 chunks of 16 bytes per operand; out-of-range rows and columns stage zeros.
        for (int e = threadIdx.x; e < QM_BLOCK * 8; e += 256) {
            const int r = e >> 3, ch = e & 7;
            const i64 kk = k0 + ch * 16;
            uint4 va = make_uint4(0, 0, 0, 0), vb = make_uint4(0, 0, 0, 0);
            if (kk < kp) {
                if (r0 + r < m) va = *(const uint4*)(xq + (r0 + r) * kp + kk);
                if (c0 + r < n) vb = *(const uint4*)(w + (c0 + r) * kp + kk);
            }
            *(uint4*)(as + r * QM_LD + ch * 4) = va;
            *(uint4*)(bs + r * QM_LD + ch * 4) = vb;
        }
        __syncthreads();
        qm_zero_warp_tile(part);
#pragma unroll
        for (int ks = 0; ks < 4; ++ks) {
            u32 af[4][4], bf[4][2];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const u32* a = as + (wm * 64 + i * 16 + g) * QM_LD + ks * 8 + t;
                af[i][0] = a[0];
                af[i][1] = a[8 * QM_LD];
                af[i][2] = a[4];
                af[i][3] = a[8 * QM_LD + 4];
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const u32* p = bs + (wn * 32 + j * 8 + g) * QM_LD + ks * 8 + t;
                bf[j][0] = p[0];
                bf[j][1] = p[4];
            }
            qm_mma_warp_tile(part, af, bf);
        }
        const float sv = qm_scale(sx[(i64)blockIdx.y * kb + b], sw[(i64)blockIdx.x * kb + b]);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][j][e] = qm_step(acc[i][j][e], part[i][j][e], sv);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const i64 row = r0 + wm * 64 + i * 16 + g + (e >= 2 ? 8 : 0);
                const i64 col = c0 + wn * 32 + j * 8 + t * 2 + (e & 1);
                if (row < m && col < n) qm_store(out, odt, bias, bdt, row, col, n, acc[i][j][e]);
            }
#endif
}

// float(p) exactly, for |p| ≤ 2^22, without the conversion unit (I2F issues at a quarter of the
// FP32 rate): p added to the bits of 1.5·2^23, whose ulp is 1, then 1.5·2^23 subtracted, an exact
// difference. A K block's partial is at most 128·128·128 = 2^21 in magnitude; 0 gives +0 as (float)0.
__device__ __forceinline__ float qm_exact_float(int p) {
    return __fadd_rn(__int_as_float(0x4B400000 + p), -12582912.0f);
}

__device__ __forceinline__ float qm_step_exact(float acc, int partial, float s) {
    return __fmaf_rn(qm_exact_float(partial), s, acc);
}

// Two adjacent outputs (col even) with both inside the matrix and n even (so the pair is aligned):
// one 4- or 8-byte store of values already summed with their bias, each rounded once.
__device__ __forceinline__ void qm_put_pair(void* out, int odt, i64 row, i64 col, i64 n, float v0, float v1) {
    const i64 i = row * n + col;
    if (odt == DT_F32) {
        *(float2*)((float*)out + i) = make_float2(v0, v1);
    } else {
        const u32 lo = odt == DT_BF16 ? float_to_bf16(v0) : float_to_half(v0);
        const u32 hi = odt == DT_BF16 ? float_to_bf16(v1) : float_to_half(v1);
        *(u32*)((u16*)out + i) = lo | (hi << 16);
    }
}

// qm_put_pair after the bias, as qm_store does for one value.
__device__ __forceinline__ void qm_store_pair(void* out, int odt, const void* bias, int bdt, i64 row, i64 col, i64 n,
                                              float v0, float v1) {
    if (bias) {
        v0 = __fadd_rn(v0, load_float(bias, col, bdt));
        v1 = __fadd_rn(v1, load_float(bias, col + 1, bdt));
    }
    qm_put_pair(out, odt, row, col, n, v0, v1);
}

// ---- td_w8a8_gemm_pipe: td_w8a8_gemm_mma's tiles and warp layout (grid (⌈N/128⌉, ⌈M/128⌉), 256
// threads, 8 warps as 2 (M) × 4 (N) of 64 × 32) with a QP_STAGES-deep cp.async pipeline of K blocks,
// swizzled tiles read by ldmatrix, and the exact int→float above. Dynamic shared memory
// QP_STAGES × 32 KiB: per stage the xq tile (128 rows × 128 bytes) then the w tile. Out-of-range
// rows and K chunks are zero-filled by cp.async (0 source bytes), so they add nothing.
// ldmatrix.x4 gives the m16n8k32 s8 fragments directly (an 8 × 16-byte matrix puts bytes 4t..4t+3
// of row g in lane 4g + t): A matrices (rows +0/+8, chunk 2ks/2ks+1) → a0..a3; B matrices
// (n-tile j/j+1, chunk 2ks/2ks+1) → b0, b1 of two n-tiles.
#ifndef QP_STAGES
#define QP_STAGES 4
#endif
#define QP_TILE_BYTES (QM_BLOCK * QM_BLOCK)
#define QP_STAGE_BYTES (2 * QP_TILE_BYTES)

// K block `b` of rows r0.. of xq and c0.. of w into one stage: 1024 chunks per operand, thread t
// copies chunk t % 8 of rows t / 8 + 32i.
__device__ __forceinline__ void qp_load_stage(u32 stage, const signed char* xq, const signed char* w, i64 r0, i64 c0,
                                              i64 m, i64 n, i64 kp, int b) {
    const int ch = threadIdx.x & 7, row0 = threadIdx.x >> 3;
    const i64 kk = (i64)b * QM_BLOCK + ch * 16;
    const bool kin = kk < kp;   // kp % 16 == 0: a chunk is all inside or all outside
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int r = row0 + 32 * i;
        const bool ia = kin && r0 + r < m, ib = kin && c0 + r < n;
        fa2_cp_async16(stage + qm_swizzle(r, ch), ia ? (const void*)(xq + (r0 + r) * kp + kk) : (const void*)xq, ia ? 16u : 0u);
        fa2_cp_async16(stage + QP_TILE_BYTES + qm_swizzle(r, ch), ib ? (const void*)(w + (c0 + r) * kp + kk) : (const void*)w,
                       ib ? 16u : 0u);
    }
}

extern "C" __global__ void __launch_bounds__(256) td_w8a8_gemm_pipe(
    void* out, int odt, const signed char* xq, const float* sx, const signed char* w, const float* sw,
    const void* bias, int bdt, i64 m, i64 n, i64 kp, int kb) {
#if __CUDA_ARCH__ >= 800
    const u32 smem = fa2_smem_base();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3, lr = lane & 7, lq = lane >> 3;
    const int wm = warp >> 2, wn = warp & 3;
    const i64 r0 = (i64)blockIdx.y * QM_BLOCK, c0 = (i64)blockIdx.x * QM_BLOCK;
    const float* sxr = sx + (i64)blockIdx.y * kb;
    const float* swr = sw + (i64)blockIdx.x * kb;
    float acc[4][4][4];
    int part[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

#pragma unroll
    for (int s = 0; s < QP_STAGES - 1; ++s) {
        if (s < kb) qp_load_stage(smem + s * QP_STAGE_BYTES, xq, w, r0, c0, m, n, kp, s);
        fa2_commit();   // empty groups too: the wait below counts groups
    }
    for (int b = 0; b < kb; ++b) {
        fa2_wait<QP_STAGES - 2>();   // K block b landed (this thread's copies)
        __syncthreads();             // everyone's copies visible; block b − 1's stage no longer read
        const int next = b + QP_STAGES - 1;
        if (next < kb) qp_load_stage(smem + (next % QP_STAGES) * QP_STAGE_BYTES, xq, w, r0, c0, m, n, kp, next);
        fa2_commit();
        const float sv = qm_scale(sxr[b], swr[b]);
        const u32 as = smem + (b % QP_STAGES) * QP_STAGE_BYTES, bs = as + QP_TILE_BYTES;
        qm_zero_warp_tile(part);
#pragma unroll
        for (int ks = 0; ks < 4; ++ks) {
            u32 af[4][4], bf[4][2];
#pragma unroll
            for (int i = 0; i < 4; ++i)
                fa2_ldmatrix(af[i], as + qm_swizzle(wm * 64 + i * 16 + 8 * (lq & 1) + lr, 2 * ks + (lq >> 1)));
#pragma unroll
            for (int jj = 0; jj < 2; ++jj) {
                u32 r[4];
                fa2_ldmatrix(r, bs + qm_swizzle(wn * 32 + jj * 16 + 8 * (lq >> 1) + lr, 2 * ks + (lq & 1)));
                bf[2 * jj][0] = r[0];
                bf[2 * jj][1] = r[1];
                bf[2 * jj + 1][0] = r[2];
                bf[2 * jj + 1][1] = r[3];
            }
            qm_mma_warp_tile(part, af, bf);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][j][e] = qm_step_exact(acc[i][j][e], part[i][j][e], sv);
    }
    fa2_wait<0>();
    // Interior tiles of an even-width output store pairs; edge tiles check every element.
    const bool interior = r0 + QM_BLOCK <= m && c0 + QM_BLOCK <= n && (n & 1) == 0;
#pragma unroll
    for (int q = 0; q < 32; ++q) {
        const int i = q >> 3, j = (q >> 1) & 3, h = q & 1;
        const i64 row = r0 + wm * 64 + i * 16 + g + 8 * h, col = c0 + wn * 32 + j * 8 + 2 * t;
        const float v0 = acc[i][j][2 * h], v1 = acc[i][j][2 * h + 1];
        if (interior) {
            qm_store_pair(out, odt, bias, bdt, row, col, n, v0, v1);
        } else if (row < m) {
            if (col < n) qm_store(out, odt, bias, bdt, row, col, n, v0);
            if (col + 1 < n) qm_store(out, odt, bias, bdt, row, col + 1, n, v1);
        }
    }
#endif
}
