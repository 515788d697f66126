// W8A8 GEMM on Hopper: td_w8a8_gemm_wgmma, int8 wgmma with a producer warpgroup. Same operands,
// tiles and result as td_w8a8_gemm_pipe of quantized_matmul.cu, whose helpers it uses (compiled after
// it, and after the primitives of flash_attention.cu and hopper_attention.cu). Host side:
// CUDABackend+QuantizedMatmul.swift; parity and timing: scripts/cuda/bench_w8a8.py.

// ---- td_w8a8_gemm_wgmma (sm_90a only; an empty body elsewhere): the same 128 × 128 output tiles and
// grid (⌈N/128⌉, ⌈M/128⌉), 384 threads. Warpgroups 0 and 1 consume (64 rows each, m64n128k32 s8
// wgmma from shared memory, 4 per K block); warpgroup 2 produces: it stages K blocks with cp.async
// into QW_STAGES buffers and publishes each on an mbarrier (hopper_conv.cu's protocol). A consumer
// waits for its K block's wgmma group, frees the buffer, then folds the int32 partials into its
// fp32 sums while the other warpgroup's wgmma runs.
// Shared memory (1024-byte aligned): per stage the xq tile then the w tile, 128 rows × 128 bytes
// each in wgmma's 128-byte swizzle (chunk c of row r at c ^ (r & 7): qm_swizzle), so both operands
// are K-major with 8-row groups 1024 bytes apart and k-step kk (32 bytes) 32·kk bytes into the
// row; then full[s], empty[s] mbarriers. Accumulator fragment (warp v of the warpgroup, lane 4g + t):
// d[4j + e] is row 16v + g + 8·(e >> 1), column 8j + 2t + (e & 1).
#ifndef QW_STAGES
#define QW_STAGES 4
#endif
// K blocks the producer keeps in flight before publishing one (≤ QW_STAGES − 1, or it deadlocks).
#define QW_LAG (QW_STAGES - 2)
#define QW_THREADS 384
// Timing probes for scripts/cuda/bench_w8a8.py only (wrong results; the engine compiles 0): 1 leaves
// out the fold, 2 the wgmma products, 3 the producer's global loads (the tiles keep stale bytes).
#ifndef QW_PROBE
#define QW_PROBE 0
#endif

// 1 (bench_w8a8.py only; the engine compiles 0): td_w8a8_gemm_wgmma reads operands pre-tiled by td_w8a8_tile, and one
// producer thread stages each K block with two bulk copies (cp.async.bulk, completing on the full
// mbarrier by transaction count) instead of 128 threads' 16-byte cp.async.
#ifndef QW_BULK
#define QW_BULK 0
#endif

// 1: the consumer warpgroups issue their products in turn (ping-pong); 0: each as soon as its K block lands.
#ifndef QW_ORDER
#define QW_ORDER 1
#endif

// Named barriers over both consumer warpgroups (256 threads) or one (128); id 0 is __syncthreads'.
__device__ __forceinline__ void qw_bar_sync(int id, int threads = 256) {
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void qw_bar_arrive(int id) { asm volatile("bar.arrive %0, 256;" ::"r"(id) : "memory"); }

// The epilogue's fp32 sums in shared memory: 128 rows of QW_EPI_LD floats over the stage buffers.
// 136 = 8 (mod 32) words: a half-warp's 8-byte stores of a fragment (rows g, columns 2t) hit 16
// different bank pairs; each row starts 16-byte aligned for the 4-float reads.
#define QW_EPI_LD 136
static_assert(QW_STAGES * QP_STAGE_BYTES >= QM_BLOCK * QW_EPI_LD * 4, "the epilogue's sums exceed the stages");

__device__ __forceinline__ void qw_st_shared2(u32 addr, float a, float b) {
    asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(addr), "f"(a), "f"(b) : "memory");
}
__device__ __forceinline__ void qw_ld_shared4(u32 addr, float* o) {
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(o[0]), "=f"(o[1]), "=f"(o[2]), "=f"(o[3]) : "r"(addr) : "memory");
}

// odt, td_w8a8_gemm_wgmma's output code: the output dtype, with QM_GELU added to store GELU(tanh) of
// each value rounded to that dtype (the values of quantizedMatmul followed by the elementwise geluTanh,
// which uses the same gelu_tanh, without writing and reading the product in between).
#define QM_GELU 0x100
#define QM_DTYPE(odt) ((odt) & 0xff)

__device__ __forceinline__ float qw_gelu_rounded(float v, int dt) {
    return gelu_tanh(dt == DT_BF16 ? bf16_to_float(float_to_bf16(v)) : dt == DT_F16 ? half_to_float(float_to_half(v)) : v);
}

// Grid (kb, ⌈rows/128⌉), 256 threads: src [rows, kp] int8 row-major → dst as 128 × 128 tiles, tile
// (rb, cb) at (rb · kb + cb) · 16 KiB in wgmma's 128-byte swizzle (qm_swizzle), rows past `rows` and
// columns past kp zero: the layout QW_BULK's producer copies a K block of in one piece.
extern "C" __global__ void td_w8a8_tile(signed char* dst, const signed char* src, i64 rows, i64 kp, int kb) {
    const int cb = blockIdx.x;
    const i64 rb = blockIdx.y;
    signed char* tile = dst + (rb * kb + cb) * (i64)(QM_BLOCK * QM_BLOCK);
    for (int e = threadIdx.x; e < QM_BLOCK * 8; e += blockDim.x) {
        const int r = e >> 3, ch = e & 7;
        const i64 row = rb * QM_BLOCK + r, col = (i64)cb * QM_BLOCK + ch * 16;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (row < rows && col < kp) v = *(const uint4*)(src + row * kp + col);   // kp % 16 == 0
        *(uint4*)(tile + qm_swizzle(r, ch)) = v;
    }
}

__device__ __forceinline__ void qw_expect_tx(u32 bar, u32 bytes) {
#ifdef FA3_ENABLED
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void qw_bulk_copy(u32 dst, const void* src, u32 bytes, u32 bar) {
#ifdef FA3_ENABLED
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                 ::"r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
#endif
}

// Full barriers for `full_count` arrivals, empty ones for `empty_count` (thread 0, before the block's
// first __syncthreads).
__device__ __forceinline__ void qw_init_barriers(u32 bars, u32 full_count, u32 empty_count) {
    for (int s = 0; s < QW_STAGES; ++s) {
        fa3_mbar_init(bars + 8 * s, full_count);
        fa3_mbar_init(bars + 8 * (QW_STAGES + s), empty_count);
    }
}

// The bulk producer (one thread): K blocks 0..kb-1 of operands pre-tiled by td_w8a8_tile into stages
// it % QW_STAGES of a_region + 16 KiB bytes each: A's rows from up to two tiles (a0_bytes from `a0`,
// then a1_bytes from `a1`; each 16 KiB a K block apart; a1_bytes 0 for one piece), the 16 KiB B tile
// (from `b`) at a_region, announced on full[s] by transaction count; a stage is refilled once
// empty[s] (its consumers) released it.
__device__ __forceinline__ void qw_produce_bulk(u32 smem, u32 bars, u32 a_region, const signed char* a0, u32 a0_bytes,
                                                const signed char* a1, u32 a1_bytes, const signed char* b, int kb) {
    const u32 stage_bytes = a_region + QP_TILE_BYTES;
    for (int it = 0; it < kb; ++it) {
        const int s = it % QW_STAGES;
        if (it >= QW_STAGES) fa3_mbar_wait(bars + 8 * (QW_STAGES + s), ((it / QW_STAGES) - 1) & 1);
        const u32 full = bars + 8 * s, stage = smem + s * stage_bytes;
        qw_expect_tx(full, a0_bytes + a1_bytes + QP_TILE_BYTES);
        qw_bulk_copy(stage, a0 + (i64)it * QP_TILE_BYTES, a0_bytes, full);
        if (a1_bytes) qw_bulk_copy(stage + a0_bytes, a1 + (i64)it * QP_TILE_BYTES, a1_bytes, full);
        qw_bulk_copy(stage + a_region, b + (i64)it * QP_TILE_BYTES, QP_TILE_BYTES, full);
    }
}

// d (64 s32) = (accumulate ? d : 0) + A·B, m64n128k32, A and B K-major int8 in shared memory.
__device__ __forceinline__ void qw_mma(int* d, u64 a, u64 b, int accumulate) {
#ifdef FA3_ENABLED
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p;\n}\n"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
                 : "l"(a), "l"(b), "r"(accumulate));
#endif
}

// Producer side of one output tile (rows r0.., columns c0..): its kb K blocks staged into the stages
// kg, kg + 1, … (mod QW_STAGES; kg counts the block's K blocks and is advanced),
// each published QW_LAG blocks later. Thread tid of the producer warpgroup copies 16-byte chunk
// ch = tid % 8 of rows row0 + 16i (row0 = tid / 8) of both tiles. Row addresses and which rows exist
// are worked out once; per K block only the column advances (the pointers of absent rows stay at the
// operand's start, 0 bytes copied).
__device__ __forceinline__ void qw_produce_tile(u32 smem, u32 bars, const signed char* xq, const signed char* w, i64 m, i64 n,
                                                i64 kp, int kb, i64 r0, i64 c0, int& kg) {
    const int tid = threadIdx.x - 256, ch = tid & 7, row0 = tid >> 3;
    const signed char* pa = xq + ch * 16;
    const signed char* pb = w + ch * 16;
    u32 rows_a = 0, rows_b = 0;
    if (r0 + row0 < m) pa += (r0 + row0) * kp;
    if (c0 + row0 < n) pb += (c0 + row0) * kp;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        rows_a |= (u32)(r0 + row0 + 16 * i < m) << i;
        rows_b |= (u32)(c0 + row0 + 16 * i < n) << i;
    }
    const bool whole = rows_a == 0xffu && rows_b == 0xffu;
    const i64 step16 = 16 * kp;  // bytes between rows row0 + 16i and row0 + 16(i + 1)
    const u32 dst0 = qm_swizzle(row0, ch);
    for (int it = 0; it < kb; ++it, ++kg) {
        const int s = kg % QW_STAGES;
        if (kg >= QW_STAGES) fa3_mbar_wait(bars + 8 * (QW_STAGES + s), ((kg / QW_STAGES) - 1) & 1);
        const u32 a_tile = smem + s * QP_STAGE_BYTES + dst0, b_tile = a_tile + QP_TILE_BYTES;
        const i64 col = (i64)it * QM_BLOCK;
        const bool kin = col + ch * 16 < kp;
        if (QW_PROBE == 3) {
        } else if (whole && kin) {
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                fa2_cp_async16(a_tile + 2048 * i, pa + col + i * step16, 16u);
                fa2_cp_async16(b_tile + 2048 * i, pb + col + i * step16, 16u);
            }
        } else {
            const u32 ma = kin ? rows_a : 0u, mb = kin ? rows_b : 0u;
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                const bool ia = (ma >> i) & 1, ib = (mb >> i) & 1;
                fa2_cp_async16(a_tile + 2048 * i, ia ? (const void*)(pa + col + i * step16) : (const void*)xq, ia ? 16u : 0u);
                fa2_cp_async16(b_tile + 2048 * i, ib ? (const void*)(pb + col + i * step16) : (const void*)w, ib ? 16u : 0u);
            }
        }
        fa2_commit();
        if (kg >= QW_LAG) {
            fa2_wait<QW_LAG>();
            fa3_fence_proxy();
            fa3_mbar_arrive(bars + 8 * ((kg - QW_LAG) % QW_STAGES));
        }
    }
}

// The warpgroup's 64 × 128 fp32 sums (acc, fragment layout) to `sums` (QW_EPI_LD floats a row; the
// caller has made sure no one still reads or writes there), visible to the whole warpgroup after.
// CONSUMERS: the kernel's consumer warpgroups (2, or 3 in td_w8a8_gemm_wgmma192), one named barrier each.
template <int CONSUMERS>
__device__ __forceinline__ void qw_sums_to_shared(const float (&acc)[64], u32 sums, int wg) {
    const int v = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h)
            qw_st_shared2(sums + (u32)(((16 * v + g + 8 * h) * QW_EPI_LD + 8 * j + 2 * t) * 4), acc[4 * j + 2 * h],
                          acc[4 * j + 2 * h + 1]);
    if (wg == 0) qw_bar_sync(4, 128);  // constant ids: a register id makes ptxas reserve all 16
    else if (CONSUMERS == 2 || wg == 1) qw_bar_sync(5, 128);
    else qw_bar_sync(6, 128);
}

// Consumer side of one tile's result: the sums through shared memory (qw_sums_to_shared), then each
// warp stores whole rows, 4 columns a lane, with the lane's 4 bias values read once, GELU applied
// under QM_GELU.
template <int CONSUMERS = 2>
__device__ __forceinline__ void qw_store_tile(void* out, int odt, const void* bias, int bdt, const float (&acc)[64], u32 sums,
                                              i64 r0, i64 c0, i64 m, i64 n, int wg) {
    const int v = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    qw_sums_to_shared<CONSUMERS>(acc, sums, wg);
    const i64 col = c0 + 4 * lane;
    float bv[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) bv[e] = bias && col + e < n ? load_float(bias, col + e, bdt) : 0.0f;
    const bool whole = col + 3 < n && (n & 3) == 0;  // four outputs in the matrix, 4-aligned in memory
#pragma unroll 2
    for (int i = 0; i < 16; ++i) {
        const int rl = 4 * i + v;
        const i64 row = r0 + 64 * wg + rl;
        if (row >= m) break;
        float o[4];
        qw_ld_shared4(sums + (u32)((rl * QW_EPI_LD + 4 * lane) * 4), o);
        if (bias) {
#pragma unroll
            for (int e = 0; e < 4; ++e) o[e] = __fadd_rn(o[e], bv[e]);
        }
        if (odt & QM_GELU) {
#pragma unroll
            for (int e = 0; e < 4; ++e) o[e] = qw_gelu_rounded(o[e], QM_DTYPE(odt));
        }
        if (whole) {
            qm_put_pair(out, QM_DTYPE(odt), row, col, n, o[0], o[1]);
            qm_put_pair(out, QM_DTYPE(odt), row, col + 2, n, o[2], o[3]);
        } else {
#pragma unroll
            for (int e = 0; e < 4; ++e)
                if (col + e < n) store_float(out, row * n + col + e, QM_DTYPE(odt), o[e]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(QW_THREADS, 1) td_w8a8_gemm_wgmma(
    void* out, int odt, const signed char* xq, const float* sx, const signed char* w, const float* sw,
    const void* bias, int bdt, i64 m, i64 n, i64 kp, int kb) {
#ifdef FA3_ENABLED
    const u32 smem = (fa2_smem_base() + 1023u) & ~1023u;
    // full[s] at bars + 8s (count: 128 producer threads), empty[s] at bars + 8(QW_STAGES + s) (count: 256).
    const u32 bars = smem + QW_STAGES * QP_STAGE_BYTES;
    const i64 r0 = (i64)blockIdx.y * QM_BLOCK, c0 = (i64)blockIdx.x * QM_BLOCK;
    if (threadIdx.x == 0) qw_init_barriers(bars, QW_BULK ? 1 : 128, 256);
    __syncthreads();

    if (QW_BULK && threadIdx.x >= 256) {
        if (threadIdx.x == 256)
            qw_produce_bulk(smem, bars, QP_TILE_BYTES, xq + (i64)blockIdx.y * kb * QP_TILE_BYTES, QP_TILE_BYTES, xq, 0,
                            w + (i64)blockIdx.x * kb * QP_TILE_BYTES, kb);
        return;
    }
    if (threadIdx.x >= 256) {
        int kg = 0;
        qw_produce_tile(smem, bars, xq, w, m, n, kp, kb, r0, c0, kg);
        fa2_wait<0>();
        fa3_fence_proxy();
        for (int it = kb > QW_LAG ? kb - QW_LAG : 0; it < kb; ++it) fa3_mbar_arrive(bars + 8 * (it % QW_STAGES));
        return;
    }

    const int wg = threadIdx.x >> 7;
    const float* sxr = sx + (i64)blockIdx.y * kb;
    const float* swr = sw + (i64)blockIdx.x * kb;
    float acc[64];
    int part[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
    if (QW_PROBE == 2) {
#pragma unroll
        for (int i = 0; i < 64; ++i) part[i] = i;
    }
    // The block scales are read one K block ahead, so no global load's latency sits between a K
    // block's barrier and its products (ptxas placed the scale product before the wgmma issue).
    float sx_next = kb > 0 ? sxr[0] : 0.0f, sw_next = kb > 0 ? swr[0] : 0.0f;
    for (int it = 0; it < kb; ++it) {
        const int s = it % QW_STAGES;
        const float sv = qm_scale(sx_next, sw_next);
        if (it + 1 < kb) {
            sx_next = sxr[it + 1];
            sw_next = swr[it + 1];
        }
        fa3_mbar_wait(bars + 8 * s, (it / QW_STAGES) & 1);
        const u32 a_tile = smem + s * QP_STAGE_BYTES + wg * (64 * QM_BLOCK), b_tile = smem + s * QP_STAGE_BYTES + QP_TILE_BYTES;
        // Ping-pong: warpgroup 0 issues K block it only after warpgroup 1 issued it − 1, and warpgroup 1
        // only after warpgroup 0 issued it, so the tensor cores run one warpgroup's products while the
        // other folds (named barrier 1: "1 may go on", 2: "0 has issued"; 256 = both warpgroups).
        if (QW_ORDER && wg == 0 && it > 0) qw_bar_sync(1);
        if (QW_ORDER && wg == 1) qw_bar_sync(2);
        fa3_fence_operands();
        if (QW_PROBE != 2) {
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) qw_mma(part, fa3_desc(a_tile + 32 * kk, 16, 1024), fa3_desc(b_tile + 32 * kk, 16, 1024), kk);
        }
        fa3_commit();
        if (QW_ORDER && wg == 0) qw_bar_arrive(2);
        if (QW_ORDER && wg == 1 && it + 1 < kb) qw_bar_arrive(1);
        fa3_wait<0>();
        fa3_mbar_arrive(bars + 8 * (QW_STAGES + s));
        if (QW_PROBE != 1) {
#pragma unroll
            for (int i = 0; i < 64; ++i) acc[i] = qm_step_exact(acc[i], part[i], sv);
        }
    }
    // The sums go through the stages, free once both consumer warpgroups are past their last products
    // (the producer's copies all landed before it published them).
    qw_bar_sync(3);
    qw_store_tile(out, odt, bias, bdt, acc, smem + (u32)(64 * wg * QW_EPI_LD * 4), r0, c0, m, n, wg);
#endif
}

// Consumer warpgroup of the bulk-fed kernels below: its 64 × 128 sums over kb K blocks, the A rows
// a_offset bytes into each stage of stage_bytes, the B tile at b_offset; products issued as soon as a
// K block lands (no ping-pong), the fold as td_w8a8_gemm_wgmma's. sxr nil: this warpgroup's rows are
// all past M (no activation scales to read; its sums are never stored).
__device__ __forceinline__ void qw_consume_unordered(float (&acc)[64], u32 smem, u32 bars, u32 stage_bytes, u32 a_offset,
                                                     u32 b_offset, const float* sxr, const float* swr, int kb) {
    int part[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
    float sx_next = kb > 0 && sxr ? sxr[0] : 0.0f, sw_next = kb > 0 ? swr[0] : 0.0f;
    for (int it = 0; it < kb; ++it) {
        const int s = it % QW_STAGES;
        const float sv = qm_scale(sx_next, sw_next);
        if (it + 1 < kb) {
            sx_next = sxr ? sxr[it + 1] : 0.0f;
            sw_next = swr[it + 1];
        }
        fa3_mbar_wait(bars + 8 * s, (it / QW_STAGES) & 1);
        const u32 a_tile = smem + s * stage_bytes + a_offset, b_tile = smem + s * stage_bytes + b_offset;
        fa3_fence_operands();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) qw_mma(part, fa3_desc(a_tile + 32 * kk, 16, 1024), fa3_desc(b_tile + 32 * kk, 16, 1024), kk);
        fa3_commit();
        fa3_wait<0>();
        fa3_mbar_arrive(bars + 8 * (QW_STAGES + s));
#pragma unroll
        for (int i = 0; i < 64; ++i) acc[i] = qm_step_exact(acc[i], part[i], sv);
    }
}

// ---- td_w8a8_gemm_wgmma64 (sm_90a only; bench_w8a8.py variant halfS, not launched by the engine yet):
// 64 × 128 output tiles, grid (⌈N/128⌉, ⌈M/64⌉), 160 threads, two blocks per SM, so one block's
// epilogue runs under the other's products (td_w8a8_gemm_wgmma's tensor cores idle during its own).
// Warpgroup 0 consumes as td_w8a8_gemm_wgmma's warpgroup 0 does; thread 128 produces from operands
// pre-tiled by td_w8a8_tile: per K block one 8 KiB bulk copy (this block's half of the 128-row xq tile;
// rows 64.. of a tile keep the swizzle of rows 0..) and one 16 KiB copy of the weight tile.
// Shared memory (1024-byte aligned): QW_STAGES stages of the 8 KiB A and 16 KiB B tiles, then the
// full and empty mbarriers; the epilogue's sums (64 rows of QW_EPI_LD floats) go through the stages.
#define Q64_A_BYTES (64 * QM_BLOCK)
#define Q64_STAGE_BYTES (Q64_A_BYTES + QP_TILE_BYTES)

extern "C" __global__ void __launch_bounds__(160, 2) td_w8a8_gemm_wgmma64(
    void* out, int odt, const signed char* xt, const float* sx, const signed char* wt, const float* sw,
    const void* bias, int bdt, i64 m, i64 n, i64 kp, int kb) {
#ifdef FA3_ENABLED
    const u32 smem = (fa2_smem_base() + 1023u) & ~1023u;
    const u32 bars = smem + QW_STAGES * Q64_STAGE_BYTES;
    const i64 r0 = (i64)blockIdx.y * 64, c0 = (i64)blockIdx.x * QM_BLOCK;
    const i64 mb = blockIdx.y >> 1;  // the activation block (and xq tile) of these 64 rows
    if (threadIdx.x == 0) qw_init_barriers(bars, 1, 128);
    __syncthreads();

    if (threadIdx.x >= 128) {
        if (threadIdx.x == 128)
            qw_produce_bulk(smem, bars, Q64_A_BYTES, xt + mb * kb * QP_TILE_BYTES + (blockIdx.y & 1) * Q64_A_BYTES, Q64_A_BYTES,
                            xt, 0, wt + (i64)blockIdx.x * kb * QP_TILE_BYTES, kb);
        return;
    }

    float acc[64];
    qw_consume_unordered(acc, smem, bars, Q64_STAGE_BYTES, 0, Q64_A_BYTES, sx + mb * kb, sw + (i64)blockIdx.x * kb, kb);
    // Every copy landed before its K block was consumed, so the stages are free once all four warps
    // are past their last products.
    qw_bar_sync(3, 128);
    qw_store_tile(out, odt, bias, bdt, acc, smem, r0, c0, m, n, 0);
#endif
}

// ---- td_w8a8_gemm_wgmma192 (sm_90a only; bench_w8a8.py variant triS, not launched by the engine yet):
// 192 × 128 output tiles, grid (⌈N/128⌉, ⌈M/192⌉), 512 threads: three consumer warpgroups of 64 rows
// (td_w8a8_gemm_wgmma's consumers, unordered) and a producer warpgroup whose thread 384 stages each K
// block from operands pre-tiled by td_w8a8_tile with bulk copies: the 192 rows are two pieces of two
// 128-row xq tiles (16 + 8 KiB or 8 + 16 KiB; rows 64.. of a tile keep the swizzle of rows 0..), then
// the 16 KiB weight tile. 20 % more products per byte of L2 traffic than 128 × 128 tiles. 512 threads
// launch with 128 registers each; the producer gives most of its up (setmaxnreg 24) so the consumers
// can have 160 (an SM sub-partition holds one warp of each warpgroup: 3 · 160 + 24 ≤ 512 registers
// a lane). A warpgroup's 64 rows lie in one 128-row activation block
// (its sx row); rows past the last xq tile are not copied (their sums are never stored).
#define Q192_A_BYTES (192 * QM_BLOCK)
#define Q192_STAGE_BYTES (Q192_A_BYTES + QP_TILE_BYTES)

extern "C" __global__ void __launch_bounds__(512, 1) td_w8a8_gemm_wgmma192(
    void* out, int odt, const signed char* xt, const float* sx, const signed char* wt, const float* sw,
    const void* bias, int bdt, i64 m, i64 n, i64 kp, int kb) {
#ifdef FA3_ENABLED
    const u32 smem = (fa2_smem_base() + 1023u) & ~1023u;
    const u32 bars = smem + QW_STAGES * Q192_STAGE_BYTES;
    const i64 r0 = (i64)blockIdx.y * 192, c0 = (i64)blockIdx.x * QM_BLOCK;
    const i64 tiles_m = (m + QM_BLOCK - 1) / QM_BLOCK;
    if (threadIdx.x == 0) qw_init_barriers(bars, 1, 384);
    __syncthreads();

    if (threadIdx.x >= 384) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;" ::: "memory");
        if (threadIdx.x == 384) {
            // Piece 0: rows r0.. of tile r0 / 128 to its end; piece 1: the rest from the next tile (if any).
            const i64 t0 = r0 / QM_BLOCK;
            const u32 skip = (u32)(r0 % QM_BLOCK) * QM_BLOCK, first = QP_TILE_BYTES - skip, second = Q192_A_BYTES - first;
            const bool has_second = t0 + 1 < tiles_m;
            qw_produce_bulk(smem, bars, Q192_A_BYTES, xt + t0 * kb * QP_TILE_BYTES + skip, first, xt + (t0 + 1) * kb * QP_TILE_BYTES,
                            has_second ? second : 0u, wt + (i64)blockIdx.x * kb * QP_TILE_BYTES, kb);
        }
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 160;" ::: "memory");
    const int wg = threadIdx.x >> 7;
    const i64 rows0 = r0 + 64 * wg;                 // this warpgroup's first row
    // Rows past M (the last tile's) have their sums never stored, and sx has no row for them.
    const float* sxr = rows0 < m ? sx + rows0 / QM_BLOCK * kb : nullptr;
    float acc[64];
    qw_consume_unordered(acc, smem, bars, Q192_STAGE_BYTES, wg * (64 * QM_BLOCK), Q192_A_BYTES, sxr, sw + (i64)blockIdx.x * kb, kb);
    // The stages are free once all three warpgroups are past their last products (every copy landed
    // before its K block was consumed).
    qw_bar_sync(3, 384);
    qw_store_tile<3>(out, odt, bias, bdt, acc, smem + (u32)(64 * wg * QW_EPI_LD * 4), r0, c0, m, n, wg);
#endif
}
