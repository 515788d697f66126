// Dense flash attention on Hopper tensor cores (wgmma, sm_90a only; empty bodies elsewhere),
// bf16/f16, D = Dv = 128. Compiled after flash_attention.cu, whose primitives it uses (cp.async,
// exp2). Same arguments and output as td_fa2_*:
//
// td_fa3_<t>_d128   grid (⌈Lq/128⌉, H, B), 384 threads: warps 0–7 are two consumer warpgroups
//                   (warpgroup w owns query rows 64w … 64w + 63 of the block's 128); warps 8–11
//                   are producers that stage K and V tiles of 128 keys with cp.async into
//                   FA3_STAGES buffers and publish each on an mbarrier. Consumers never wait for
//                   each other, so one warpgroup's softmax overlaps the other's matrix products.
// td_fa3_sparse_<t>_d128  SLA's sparse branch with query blocks of 128 rows: grid (mq, H, B), same
//                   threads; arguments as td_fa2_sparse_*. A 128-key tile is two 64-key pieces of
//                   the listed key blocks (Fa3SparseHalves), so only kept blocks are read.
//
// Per key tile: S = Q·Kᵀ (wgmma m64n128k16, Q and K from shared memory), online softmax in
// registers, O += P·V (wgmma m64n128k16, P from registers, V from shared memory). The softmax is
// FlashAttention-2's in the log2 domain with the scale folded in, as in flash_attention.cu:
// p = 2^(s·c − m); P rounded to the input type only as the mma operand, sums in fp32.
//
// Shared memory (1024-byte aligned; each tile in the 128-byte-swizzled layout wgmma reads): a
// tile of R rows × 128 columns is two column blocks (columns 0–63, 64–127) of R rows × 128 bytes;
// the 16-byte chunk c of row r sits at chunk c ^ (r & 7) of its row (the XOR of address bits 4–6
// with 7–9, which is why every block starts on 1024 bytes).
//   Q [128 rows] 32 KiB · K [STAGES][128 keys] · V [STAGES][128 keys] (32 KiB each) · barriers
// Descriptors (fa3_desc): Q and K are K-major operands (d contiguous): 8-row groups 1024 B apart,
// k-step kk starts at column block kk/4, byte 32·(kk%4). V is the B operand of P·V read MN-major
// (transposed): 8-key groups 1024 B apart, the two d column blocks one block apart, k-step kk
// (keys 16kk …) 2048·kk bytes in.
//
// Accumulator fragments (m64nN, per warp v of the warpgroup: rows 16v …; lane = 4g + t):
// d[4j+0], d[4j+1]: row g, columns 8j+2t, +1; d[4j+2], d[4j+3]: row g+8, same columns. The A
// fragment from registers for keys 16kk … is {pack(d[8kk], d[8kk+1]), pack(d[8kk+2], d[8kk+3]),
// pack(d[8kk+4], d[8kk+5]), pack(d[8kk+6], d[8kk+7])} of S: no data movement.
//
// Measured on an H200 at 32 760 tokens, 12 heads (scripts/cuda/bench_attention.py --hopper):
// 13.7 ms, 481 TFLOP/s (SDPA 11.4 ms). Slower variants tried: all 256 threads loading and
// barriers in lockstep, 427 TFLOP/s; one producer warp, 256 (2 stages) / 287 (3 stages);
// four producer warps with 2 stages, 414.

#define FA3_ROWS 128
#define FA3_KEYS 128
#define FA3_TILE_BYTES (128 * 128 * 2)

// V's descriptor offsets (see the header): 16 KiB between the two d column blocks, 1024 B between
// 8-key groups.
#define FA3_V_LEADING 16384
#define FA3_V_STRIDE 1024

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA3_ENABLED 1
#endif

// Shared-memory matrix descriptor, 128-byte swizzle; byte offsets are multiples of 16.
__device__ __forceinline__ u64 fa3_desc(u32 addr, u32 leading, u32 stride) {
    return (u64)((addr & 0x3FFFF) >> 4) | ((u64)(leading >> 4) << 16) | ((u64)(stride >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void fa3_fence_operands() {
#ifdef FA3_ENABLED
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#endif
}

__device__ __forceinline__ void fa3_commit() {
#ifdef FA3_ENABLED
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}

template <int N>
__device__ __forceinline__ void fa3_wait() {
#ifdef FA3_ENABLED
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
#endif
}

// Orders this thread's generic-proxy shared writes (cp.async included) before later async-proxy
// (wgmma) reads; each writing thread runs it before the barrier.
__device__ __forceinline__ void fa3_fence_proxy() {
#ifdef FA3_ENABLED
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

// d (64 f32) = (accumulate ? d : 0) + A·B, A and B from shared memory, both K-major.
template <bool BF16>
__device__ __forceinline__ void fa3_mma_ss(float* d, u64 a, u64 b, int accumulate) {
#ifdef FA3_ENABLED
    if constexpr (BF16) {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "l"(a), "l"(b), "r"(accumulate));
    } else {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "l"(a), "l"(b), "r"(accumulate));
    }
#endif
}

// d (64 f32) += A·B, A (64×16) from registers, B from shared memory read MN-major.
template <bool BF16>
__device__ __forceinline__ void fa3_mma_rs(float* d, const u32* a, u64 b) {
#ifdef FA3_ENABLED
    if constexpr (BF16) {
        asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
    } else {
        asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
    }
#endif
}

// Two floats rounded to nearest even in one register (lo in bits 0–15), by the hardware convert.
template <bool BF16>
__device__ __forceinline__ u32 fa3_pack(float lo, float hi) {
    u32 r;
    if constexpr (BF16) {
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    } else {
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    }
    return r;
}

__device__ __forceinline__ void fa3_mbar_init(u32 bar, u32 count) {
#ifdef FA3_ENABLED
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
#endif
}

__device__ __forceinline__ void fa3_mbar_arrive(u32 bar) {
#ifdef FA3_ENABLED
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
#endif
}

__device__ __forceinline__ void fa3_mbar_wait(u32 bar, u32 parity) {
#ifdef FA3_ENABLED
    u32 done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
    } while (!done);
#endif
}

// ---- end primitives (hopper_conv.cu uses everything above)

// Barriers (8 bytes each, after the tiles): full_k[s], full_v[s] (count FA3_PRODUCERS: each
// producer thread arrives after its own copies landed and a proxy fence), empty[s] (count 256: every
// consumer thread once its P·V of the tile finished).
// Stages and producer threads are overridable for experiments (bench_attention.py); the engine
// compiles the defaults.
#ifndef FA3_STAGES
#define FA3_STAGES 3
#endif
#ifndef FA3_PRODUCERS
#define FA3_PRODUCERS 128
#endif
#define FA3_THREADS (256 + FA3_PRODUCERS)
#define FA3_SMEM_BYTES ((1 + 2 * FA3_STAGES) * FA3_TILE_BYTES + 1024 + 3 * 8 * FA3_STAGES)

// Rows [r0, r0 + ROWS) into a swizzled tile whose column blocks are `block` bytes apart, by
// THREADS threads (this one is `tid`); rows at or past `end` zero filled.
template <int ROWS, int THREADS>
__device__ __forceinline__ void fa3_load_by(u32 tile, u32 block, const u16* src, int r0, int end, i64 sl, int tid) {
    const int c = tid & 15, row0 = tid >> 4;
    const u32 base = tile + (u32)(c >> 3) * block;
#pragma unroll 8
    for (int i = 0; i < ROWS * 16 / THREADS; ++i) {
        const int row = row0 + (THREADS / 16) * i;
        const bool inside = r0 + row < end;
        const u16* p = src + (i64)(r0 + row) * sl + c * 8;
        fa2_cp_async16(base + (u32)(row * 128 + (((c & 7) ^ (row & 7)) << 4)), inside ? p : src, inside ? 16u : 0u);
    }
}

// Key ranges of the two 64-key halves of each 128-key tile: half j (tile j / 2) holds keys
// [k0, kend), rows at or past kend zero filled and masked (an empty range contributes nothing).
// Dense: consecutive keys. Sparse (SLA, blockK a multiple of 64): 64-key piece j is piece j % per
// of block list[j / per] (per = blockK / 64); pieces past the list, or a block index outside
// 0..<mk, are empty.
struct Fa3DenseHalves {
    int lk;
    __device__ __forceinline__ void operator()(int j, int& k0, int& kend) const {
        k0 = j * 64;
        kend = lk;
    }
};

struct Fa3SparseHalves {
    const int* list;
    int lk, block_k, per, mk, pieces;
    __device__ __forceinline__ void operator()(int j, int& k0, int& kend) const {
        const int blk = j < pieces ? list[j / per] : -1;
        if (blk < 0 || blk >= mk) {
            k0 = 0;
            kend = 0;
            return;
        }
        const int start = blk * block_k;
        k0 = start + (j % per) * 64;
        kend = min(lk, start + block_k);
    }
};

// One thread block: query rows [q0, q0 + 128) of one head over `ntiles` tiles of 128 keys whose
// halves `halves` gives. qb/kb/vb point at token 0 of the head, ob at the output head.
template <bool BF16, class Halves>
__device__ __forceinline__ void fa3_attention(u16* ob, i64 osl, const u16* qb, i64 qsl, const u16* kb, i64 ksl,
                                              const u16* vb, i64 vsl, int q0, int nq, int ntiles, Halves halves,
                                              float scale_log2) {
    const float neg_inf = -__int_as_float(0x7f800000);
    const u32 qs = (fa2_smem_base() + 1023u) & ~1023u, ks = qs + FA3_TILE_BYTES;
    const u32 vs = ks + FA3_STAGES * FA3_TILE_BYTES, bars = vs + FA3_STAGES * FA3_TILE_BYTES;
    // full_k[s] at bars + 8s, full_v[s] at bars + 8(STAGES + s), empty[s] at bars + 8(2·STAGES + s).
    if (threadIdx.x == 0) {
        for (int st = 0; st < FA3_STAGES; ++st) {
            fa3_mbar_init(bars + 8 * st, FA3_PRODUCERS);
            fa3_mbar_init(bars + 8 * (FA3_STAGES + st), FA3_PRODUCERS);
            fa3_mbar_init(bars + 8 * (2 * FA3_STAGES + st), 256);
        }
    }
    __syncthreads();

    if (threadIdx.x >= 256) { // producer warps
        const int lane = threadIdx.x - 256;
        for (int it = 0; it <= ntiles; ++it) {
            if (it < ntiles) {
                const int st = it % FA3_STAGES;
                if (it >= FA3_STAGES) fa3_mbar_wait(bars + 8 * (2 * FA3_STAGES + st), ((it / FA3_STAGES) - 1) & 1);
                int a0, a1, b0, b1;
                halves(2 * it, a0, a1);
                halves(2 * it + 1, b0, b1);
                // Rows 64–127 of a tile start 64·128 bytes in: row r and r + 64 share the swizzle (r & 7).
                fa3_load_by<64, FA3_PRODUCERS>(ks + st * FA3_TILE_BYTES, FA3_KEYS * 128, kb, a0, a1, ksl, lane);
                fa3_load_by<64, FA3_PRODUCERS>(ks + st * FA3_TILE_BYTES + 64 * 128, FA3_KEYS * 128, kb, b0, b1, ksl, lane);
                fa2_commit();
                fa3_load_by<64, FA3_PRODUCERS>(vs + st * FA3_TILE_BYTES, FA3_KEYS * 128, vb, a0, a1, vsl, lane);
                fa3_load_by<64, FA3_PRODUCERS>(vs + st * FA3_TILE_BYTES + 64 * 128, FA3_KEYS * 128, vb, b0, b1, vsl, lane);
                fa2_commit();
            } else {
                fa2_commit();
                fa2_commit();
            }
            // Publish the previous tile (its groups are the 3rd and 4th newest).
            if (it > 0) {
                const int st = (it - 1) % FA3_STAGES;
                fa2_wait<3>();
                fa3_fence_proxy();
                fa3_mbar_arrive(bars + 8 * st);
                fa2_wait<2>();
                fa3_fence_proxy();
                fa3_mbar_arrive(bars + 8 * (FA3_STAGES + st));
            }
        }
        return;
    }

    const int wg = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    // This warpgroup's 64 query rows (column blocks of the 128-row Q tile are 16 KiB apart).
    fa3_load_by<64, 128>(qs + wg * (64 * 128), FA3_ROWS * 128, qb, q0 + 64 * wg, nq, qsl, threadIdx.x & 127);
    fa2_commit();
    fa2_wait<0>();
    fa3_fence_proxy();
    asm volatile("bar.sync %0, 128;" ::"r"(1 + wg) : "memory");

    float o[64], s[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = 0.0f;
    float row_max[2] = {neg_inf, neg_inf}, row_sum[2] = {0.0f, 0.0f};

    for (int it = 0; it < ntiles; ++it) {
        const int st = it % FA3_STAGES;
        const u32 parity = (it / FA3_STAGES) & 1;
        fa3_mbar_wait(bars + 8 * st, parity); // K(it)
        fa3_fence_operands();
#pragma unroll
        for (int kk = 0; kk < 8; ++kk) {
            const u64 qd = fa3_desc(qs + (kk >> 2) * (FA3_ROWS * 128) + wg * (64 * 128) + (kk & 3) * 32, 16, 1024);
            const u64 kd = fa3_desc(ks + st * FA3_TILE_BYTES + (kk >> 2) * (FA3_KEYS * 128) + (kk & 3) * 32, 16, 1024);
            fa3_mma_ss<BF16>(s, qd, kd, kk);
        }
        fa3_commit();
        fa3_wait<0>();

        int lo0, lo1, hi0, hi1;
        halves(2 * it, lo0, lo1);
        halves(2 * it + 1, hi0, hi1);
        const int valid_lo = lo1 - lo0, valid_hi = hi1 - hi0;   // keys of each half (≤ 0: none)
        if (valid_lo < 64 || valid_hi < 64) {
#pragma unroll
            for (int j = 0; j < 16; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    if (((8 * j + 2 * t + (e & 1)) & 63) >= (j < 8 ? valid_lo : valid_hi)) s[4 * j + e] = neg_inf;
        }
        float base[2], correction[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float m = neg_inf;
#pragma unroll
            for (int j = 0; j < 16; ++j) m = fmaxf(m, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
            m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
            const float next = fmaxf(row_max[r], m * scale_log2);
            base[r] = next == neg_inf ? 0.0f : next;
            correction[r] = fa2_exp2(row_max[r] - base[r]);
            row_max[r] = next;
            row_sum[r] *= correction[r];
        }
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            o[4 * j + 0] *= correction[0];
            o[4 * j + 1] *= correction[0];
            o[4 * j + 2] *= correction[1];
            o[4 * j + 3] *= correction[1];
        }
        u32 pa[8][4];
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            float p[4];
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                p[e] = fa2_exp2(fmaf(s[4 * j + e], scale_log2, -base[e >> 1]));
                row_sum[e >> 1] += p[e];
            }
            pa[j >> 1][2 * (j & 1)] = fa3_pack<BF16>(p[0], p[1]);
            pa[j >> 1][2 * (j & 1) + 1] = fa3_pack<BF16>(p[2], p[3]);
        }

        fa3_mbar_wait(bars + 8 * (FA3_STAGES + st), parity); // V(it)
        fa3_fence_operands();
#pragma unroll
        for (int kk = 0; kk < 8; ++kk)
            fa3_mma_rs<BF16>(o, pa[kk], fa3_desc(vs + st * FA3_TILE_BYTES + kk * 2048, FA3_V_LEADING, FA3_V_STRIDE));
        fa3_commit();
        fa3_wait<0>();
        fa3_mbar_arrive(bars + 8 * (2 * FA3_STAGES + st));
    }

    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_sum[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
    }
    const int row_lo = q0 + 64 * wg + 16 * warp + g, row_hi = row_lo + 8;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
        const int col = 8 * j + 2 * t;
        if (row_lo < nq) *(u32*)(ob + (i64)row_lo * osl + col) = fa3_pack<BF16>(o[4 * j] * inv[0], o[4 * j + 1] * inv[0]);
        if (row_hi < nq) *(u32*)(ob + (i64)row_hi * osl + col) = fa3_pack<BF16>(o[4 * j + 2] * inv[1], o[4 * j + 3] * inv[1]);
    }
}

// Dense: grid (⌈Lq/128⌉, H, B).
template <bool BF16>
__device__ __forceinline__ void fa3_dense(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk,
                                          float scale_log2, i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl,
                                          i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {
    const i64 h = blockIdx.y, b = blockIdx.z;
    fa3_attention<BF16>(out + b * osb + h * osh, osl, q + b * qsb + h * qsh, qsl, k + b * ksb + h * ksh, ksl,
                        v + b * vsb + h * vsh, vsl, (int)blockIdx.x * FA3_ROWS, (int)lq,
                        (int)((lk + FA3_KEYS - 1) / FA3_KEYS), Fa3DenseHalves{(int)lk}, scale_log2);
}

// Sparse (SLA's sparse branch, query blocks of 128 rows): grid (mq, H, B); blocks is the dense i32
// table [B, H, mq, keep]; block_k a multiple of 64.
template <bool BF16>
__device__ __forceinline__ void fa3_sparse(u16* out, const u16* q, const u16* k, const u16* v, const int* blocks,
                                           i64 lq, i64 lk, int block_k, int keep, int mq, int mk, float scale_log2,
                                           i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl, i64 vsb, i64 vsh,
                                           i64 vsl, i64 osb, i64 osh, i64 osl) {
    const i64 qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int per = block_k / 64, pieces = keep * per;
    const Fa3SparseHalves halves{blocks + ((b * gridDim.y + h) * mq + qb) * keep, (int)lk, block_k, per, mk, pieces};
    fa3_attention<BF16>(out + b * osb + h * osh, osl, q + b * qsb + h * qsh, qsl, k + b * ksb + h * ksh, ksl,
                        v + b * vsb + h * vsh, vsl, (int)qb * FA3_ROWS, (int)lq, (pieces + 1) / 2, halves, scale_log2);
}

#ifdef FA3_ENABLED
#define FA3_ON(...) __VA_ARGS__;
#else
#define FA3_ON(...)
#endif

#define FA3_DENSE(NAME, BF16)                                                                                      \
    extern "C" __global__ void __launch_bounds__(FA3_THREADS, 1)                                                   \
        NAME(u16* out, const u16* q, const u16* k, const u16* v, i64 lq, i64 lk, float scale_log2, i64 qsb, i64 qsh,  \
             i64 qsl, i64 ksb, i64 ksh, i64 ksl, i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {              \
        FA3_ON(fa3_dense<BF16>(out, q, k, v, lq, lk, scale_log2, qsb, qsh, qsl, ksb, ksh, ksl, vsb, vsh, vsl, osb,  \
                                 osh, osl))                                                                          \
    }

#define FA3_SPARSE(NAME, BF16)                                                                                     \
    extern "C" __global__ void __launch_bounds__(FA3_THREADS, 1)                                                   \
        NAME(u16* out, const u16* q, const u16* k, const u16* v, const int* blocks, i64 lq, i64 lk, int block_k,    \
             int keep, int mq, int mk, float scale_log2, i64 qsb, i64 qsh, i64 qsl, i64 ksb, i64 ksh, i64 ksl,      \
             i64 vsb, i64 vsh, i64 vsl, i64 osb, i64 osh, i64 osl) {                                               \
        FA3_ON(fa3_sparse<BF16>(out, q, k, v, blocks, lq, lk, block_k, keep, mq, mk, scale_log2, qsb, qsh, qsl, ksb, \
                                ksh, ksl, vsb, vsh, vsl, osb, osh, osl))                                             \
    }

FA3_DENSE(td_fa3_bf16_d128, true)
FA3_DENSE(td_fa3_f16_d128, false)
FA3_SPARSE(td_fa3_sparse_bf16_d128, true)
FA3_SPARSE(td_fa3_sparse_f16_d128, false)
