// conv3d as an implicit GEMM on Hopper tensor cores (wgmma, sm_90a only; empty bodies elsewhere),
// bf16/f16 operands, fp32 accumulation. Same operands and result as td_conv_igemm_* of
// implicit_conv.cu (its td_conv_channels_last / td_conv_pack_weight copies feed both):
//   xcl [N][T][H][W][Cp]   the input, channels last, zero padded to Cp (a multiple of 32)
//   wp  [O][taps][Cp]      the weight, tap-major; tap = (dt·kh + dh)·kw + dw
//   out[n, o, p] = Σ_tap Σ_c wp[o, tap, c] · xcl[n, z(p)+dt, y(p)+dh, x(p)+dw, c] + bias[o]
// Compiled after the primitives of flash_attention.cu (cp.async) and hopper_attention.cu (wgmma
// fences, mbarriers). Host side: CUDABackend+ImplicitConvolution.swift.
//
// td_conv_wgmma_<t>_n<N>   grid (⌈P / 128⌉, ⌈O / N⌉, batch), 384 threads. The GEMM is
// positions × channels: M = 128 positions (warpgroups 0 and 1 own 64 each), N output channels
// (96, 128 or 192: the host picks the tile that pads O least), K = taps · Cp in steps of 32
// channels of one tap. Warpgroup 2 produces: it gathers the position rows of each K step (taps
// outside the input read zeros: cp.async with 0 source bytes) and the weight rows into
// CW_STAGES buffers of CW_KSUB K steps and publishes each on an mbarrier; the consumers run
// wgmma m64nNk16 on them and free a buffer once the wgmma group that read it has retired.
//
// Shared memory (1024-byte aligned): per stage and K step, A [128 positions][32 channels] then
// B [N channels][32], rows of 64 bytes in wgmma's 64-byte swizzle (16-byte chunk c of row r at
// chunk c ^ ((r >> 1) & 3); every tile starts on a multiple of 512 bytes, the swizzle's period),
// so the descriptors are K-major with 8-row groups 512 bytes apart and the second k16 half of a
// row 32 bytes in. Then full[s] and empty[s] mbarriers. After the main loop the accumulators
// are staged through the same memory (CW_PIPE_BYTES covers both uses) as [N][128 + 4] f32 so each warp writes 32 consecutive
// positions of one channel (a stride of 132 words puts a fragment's 32 lanes on 32 banks).
//
// Accumulator fragment (m64nN, warp v of the warpgroup, lane = 4g + t): d[4j + e] is position
// 16v + g + 8·(e >> 1), channel 8j + 2t + (e & 1).

#ifndef CW_CONSUMERS
// Consumer warpgroups, 64 positions each.
#define CW_CONSUMERS 2
#endif
#define CW_POSITIONS (64 * CW_CONSUMERS)
#define CW_CONSUMER_THREADS (128 * CW_CONSUMERS)
#define CW_BK 32
#ifndef CW_KSUB
#define CW_KSUB 2
#endif
#ifndef CW_STAGES
#define CW_STAGES 4
#endif
// Stages the producer keeps in flight before publishing one (≤ CW_STAGES − 1, or it deadlocks).
#define CW_LAG (CW_STAGES - 2)
#define CW_PRODUCERS 128
#define CW_THREADS (CW_CONSUMER_THREADS + CW_PRODUCERS)
#define CW_STAGE_LD (CW_POSITIONS + 4)
// Bytes before the barriers: the pipeline buffers, or the staged result if that is larger.
#define CW_PIPE_BYTES(N) (CW_STAGES * CW_KSUB * (CW_POSITIONS + (N)) * 64 > (N) * CW_STAGE_LD * 4 \
                              ? CW_STAGES * CW_KSUB * (CW_POSITIONS + (N)) * 64 : (N) * CW_STAGE_LD * 4)

// K-major operand descriptor, 64-byte swizzle, 8-row groups 512 bytes apart.
__device__ __forceinline__ u64 cw_desc(u32 addr) {
    return (u64)((addr & 0x3FFFF) >> 4) | (1ull << 16) | ((u64)(512 >> 4) << 32) | (2ull << 62);
}

__device__ __forceinline__ u32 cw_swizzle(int row, int chunk) {
    return (u32)(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}

// Input rows go through L1 (cp.async.ca) by default: the three dw taps of one K step read
// nearly the same rows, a few K steps apart.
__device__ __forceinline__ void cw_cp_async_input(u32 dst, const void* src, u32 src_bytes) {
#if defined(CW_INPUT_CG)
    fa2_cp_async16(dst, src, src_bytes);
#else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
#endif
}

__device__ __forceinline__ void cw_st_shared(u32 addr, float v) {
    asm volatile("st.shared.f32 [%0], %1;" ::"r"(addr), "f"(v) : "memory");
}

__device__ __forceinline__ float cw_ld_shared(u32 addr) {
    float v;
    asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr) : "memory");
    return v;
}

// d (N/2 f32 per thread) += A·B for m64n96k16, A and B K-major in shared memory.
template <bool BF16>
__device__ __forceinline__ void cw_mma_n96(float* d, u64 a, u64 b) {
#ifdef FA3_ENABLED
    if constexpr (BF16) {
        asm volatile("wgmma.mma_async.sync.aligned.m64n96k16.f32.bf16.bf16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47}, %48, %49, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47])
                     : "l"(a), "l"(b));
    } else {
        asm volatile("wgmma.mma_async.sync.aligned.m64n96k16.f32.f16.f16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47}, %48, %49, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47])
                     : "l"(a), "l"(b));
    }
#endif
}

// d (N/2 f32 per thread) += A·B for m64n128k16, A and B K-major in shared memory.
template <bool BF16>
__device__ __forceinline__ void cw_mma_n128(float* d, u64 a, u64 b) {
#ifdef FA3_ENABLED
    if constexpr (BF16) {
        asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "l"(a), "l"(b));
    } else {
        asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                     : "l"(a), "l"(b));
    }
#endif
}

// d (N/2 f32 per thread) += A·B for m64n192k16, A and B K-major in shared memory.
template <bool BF16>
__device__ __forceinline__ void cw_mma_n192(float* d, u64 a, u64 b) {
#ifdef FA3_ENABLED
    if constexpr (BF16) {
        asm volatile("wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95}, %96, %97, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
                     : "l"(a), "l"(b));
    } else {
        asm volatile("wgmma.mma_async.sync.aligned.m64n192k16.f32.f16.f16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95}, %96, %97, 1, 1, 1, 0, 0;"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
                     : "l"(a), "l"(b));
    }
#endif
}

template <bool BF16, int N>
__device__ __forceinline__ void cw_mma(float* d, u64 a, u64 b) {
    if constexpr (N == 96) cw_mma_n96<BF16>(d, a, b);
    else if constexpr (N == 128) cw_mma_n128<BF16>(d, a, b);
    else cw_mma_n192<BF16>(d, a, b);
}

template <bool BF16, int N>
__device__ __forceinline__ void cw_conv(void* out, int out_dt, const u16* xcl, const u16* wp, const float* bias, int O,
                                        int Cp, int T, int H, int W, int kt, int kh, int kw, int st, int sh, int sw,
                                        int pt, int ph, int pw, int Ho, int Wo, i64 P) {
    constexpr u32 A_BYTES = CW_POSITIONS * 64, SUB_BYTES = A_BYTES + N * 64, STAGE_BYTES = CW_KSUB * SUB_BYTES;
    const i64 p_base = (i64)blockIdx.x * CW_POSITIONS;
    const int o_base = blockIdx.y * N, n = blockIdx.z;
    const int taps = kt * kh * kw, cblocks = Cp / CW_BK, ksteps = taps * cblocks;
    const int iterations = (ksteps + CW_KSUB - 1) / CW_KSUB;
    const u32 smem = (fa2_smem_base() + 1023u) & ~1023u;
    // full[s] at bars + 8s (count: producer threads), empty[s] at bars + 8(CW_STAGES + s) (count: consumer threads).
    const u32 bars = smem + CW_PIPE_BYTES(N);
    if (threadIdx.x == 0) {
        for (int s = 0; s < CW_STAGES; ++s) {
            fa3_mbar_init(bars + 8 * s, CW_PRODUCERS);
            fa3_mbar_init(bars + 8 * (CW_STAGES + s), CW_CONSUMER_THREADS);
        }
    }
    __syncthreads();

    if (threadIdx.x >= CW_CONSUMER_THREADS) {
        // Producer: thread tid copies 16-byte chunk (tid & 3) of rows (tid >> 2) + 32i.
        const int tid = threadIdx.x - CW_CONSUMER_THREADS, chunk = tid & 3, row0 = tid >> 2;
        const i64 hw = (i64)Ho * Wo;
        const u16* x_batch = xcl + (i64)n * T * H * W * Cp;
        constexpr int AROWS = CW_POSITIONS / 32;
        int az[AROWS], ay[AROWS], ax[AROWS];
        bool av[AROWS];
#pragma unroll
        for (int i = 0; i < AROWS; ++i) {
            const i64 p = p_base + row0 + 32 * i;
            av[i] = p < P;
            const i64 pz = av[i] ? p / hw : 0, rem = av[i] ? p - pz * hw : 0;
            const i64 py = rem / Wo, px = rem - py * Wo;
            az[i] = (int)pz * st - pt;
            ay[i] = (int)py * sh - ph;
            ax[i] = (int)px * sw - pw;
        }
        for (int it = 0; it < iterations; ++it) {
            const int s = it % CW_STAGES;
            if (it >= CW_STAGES) fa3_mbar_wait(bars + 8 * (CW_STAGES + s), ((it / CW_STAGES) - 1) & 1);
#pragma unroll
            for (int sub = 0; sub < CW_KSUB; ++sub) {
                const int step = it * CW_KSUB + sub;
                const bool real = step < ksteps; // else zeros in A and B: the wgmma adds nothing
                const int tap = real ? step / cblocks : 0, c0 = (step - tap * cblocks) * CW_BK + chunk * 8;
                const int dw = tap % kw, dh = (tap / kw) % kh, dt = tap / (kw * kh);
                const u32 a_tile = smem + s * STAGE_BYTES + sub * SUB_BYTES, b_tile = a_tile + A_BYTES;
#pragma unroll
                for (int i = 0; i < AROWS; ++i) {
                    const int z = az[i] + dt, y = ay[i] + dh, x = ax[i] + dw;
                    const bool inside = real && av[i] && z >= 0 && z < T && y >= 0 && y < H && x >= 0 && x < W;
                    const u16* src = x_batch + (((i64)z * H + y) * W + x) * Cp + c0;
                    cw_cp_async_input(a_tile + cw_swizzle(row0 + 32 * i, chunk), inside ? src : xcl, inside ? 16u : 0u);
                }
#pragma unroll
                for (int i = 0; i < N / 32; ++i) {
                    const int o = o_base + row0 + 32 * i;
                    const bool inside = real && o < O;
                    const u16* src = wp + ((i64)o * taps + tap) * Cp + c0;
                    fa2_cp_async16(b_tile + cw_swizzle(row0 + 32 * i, chunk), inside ? src : wp, inside ? 16u : 0u);
                }
            }
            fa2_commit();
            if (it >= CW_LAG) {
                fa2_wait<CW_LAG>();
                fa3_fence_proxy();
                fa3_mbar_arrive(bars + 8 * ((it - CW_LAG) % CW_STAGES));
            }
        }
        fa2_wait<0>();
        fa3_fence_proxy();
        for (int it = iterations > CW_LAG ? iterations - CW_LAG : 0; it < iterations; ++it)
            fa3_mbar_arrive(bars + 8 * (it % CW_STAGES));
        return;
    }

    const int wg = threadIdx.x >> 7;
    float acc[N / 2];
#pragma unroll
    for (int i = 0; i < N / 2; ++i) acc[i] = 0.0f;
    for (int it = 0; it < iterations; ++it) {
        const int s = it % CW_STAGES;
        fa3_mbar_wait(bars + 8 * s, (it / CW_STAGES) & 1);
        fa3_fence_operands();
#pragma unroll
        for (int sub = 0; sub < CW_KSUB; ++sub) {
            const u32 a_tile = smem + s * STAGE_BYTES + sub * SUB_BYTES, b_tile = a_tile + A_BYTES;
#pragma unroll
            for (int kk = 0; kk < 2; ++kk)
                cw_mma<BF16, N>(acc, cw_desc(a_tile + wg * (64 * 64) + 32 * kk), cw_desc(b_tile + 32 * kk));
        }
        fa3_commit();
        fa3_wait<1>(); // the previous stage's group retired: its buffer is free
        if (it > 0) fa3_mbar_arrive(bars + 8 * (CW_STAGES + (it - 1) % CW_STAGES));
    }
    fa3_wait<0>();

    // Every consumer is past its last wgmma and the producer's copies have all been consumed:
    // the pipeline memory is free for the staged result.
    asm volatile("bar.sync 1, %0;" ::"n"(CW_CONSUMER_THREADS) : "memory");
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < N / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int row = 64 * wg + 16 * warp + g + 8 * (e >> 1), col = 8 * j + 2 * t + (e & 1);
            cw_st_shared(smem + (u32)(col * CW_STAGE_LD + row) * 4, acc[4 * j + e]);
        }
    asm volatile("bar.sync 1, %0;" ::"n"(CW_CONSUMER_THREADS) : "memory");
    for (int i = threadIdx.x; i < N * CW_POSITIONS; i += CW_CONSUMER_THREADS) {
        const int col = i / CW_POSITIONS, row = i - col * CW_POSITIONS, o = o_base + col;
        const i64 p = p_base + row;
        if (o < O && p < P)
            store_float(out, ((i64)n * O + o) * P + p, out_dt,
                        cw_ld_shared(smem + (u32)(col * CW_STAGE_LD + row) * 4) + (bias ? bias[o] : 0.0f));
    }
}

// Dynamic shared memory: 1024 (alignment) + CW_PIPE_BYTES(N) + 16 · CW_STAGES bytes
// (CUDABackend.hopperConvolutionTile repeats the defaults).
#define CW_CONV_KERNEL(NAME, BF16, N)                                                                                \
    extern "C" __global__ void __launch_bounds__(CW_THREADS, 1) NAME(                                                 \
        void* out, int out_dt, const u16* xcl, const u16* wp, const float* bias, int O, int Cp, int T, int H, int W,  \
        int kt, int kh, int kw, int st, int sh, int sw, int pt, int ph, int pw, int Ho, int Wo, i64 P) {              \
        FA3_CONV_ON(cw_conv<BF16, N>(out, out_dt, xcl, wp, bias, O, Cp, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, \
                                     Ho, Wo, P))                                                                      \
    }
#ifdef FA3_ENABLED
#define FA3_CONV_ON(...) __VA_ARGS__;
#else
#define FA3_CONV_ON(...)
#endif
CW_CONV_KERNEL(td_conv_wgmma_bf16_n96, true, 96)
CW_CONV_KERNEL(td_conv_wgmma_bf16_n128, true, 128)
#if CW_CONSUMERS <= 2 // 96 accumulators per thread do not fit beside more warpgroups
CW_CONV_KERNEL(td_conv_wgmma_bf16_n192, true, 192)
#endif
CW_CONV_KERNEL(td_conv_wgmma_f16_n96, false, 96)
CW_CONV_KERNEL(td_conv_wgmma_f16_n128, false, 128)
#if CW_CONSUMERS <= 2
CW_CONV_KERNEL(td_conv_wgmma_f16_n192, false, 192)
#endif
