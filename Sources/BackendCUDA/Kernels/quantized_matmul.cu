// W8A8 matrix product (docs/dit.md), bit for bit as CPUBackend.quantizedMatmul: x [M, K] is quantised
// per 128 × 128 block (scale = amax/128, round to nearest even, saturate to [-128, 127]); the int32
// dot product of each 128-wide K block is exact; y = Σ_kb (float(partial)·sx)·sw in ascending kb, each
// step rounded separately (__fmul_rn/__fadd_rn: never contracted into an FMA), then + bias.
//
// Operands of the products: xq [M, kp] and w [N, kp] int8, row-major, kp = K rounded up to 16
// (columns K..kp-1 zero), both 16-byte aligned. sx [⌈M/128⌉, kb], sw [⌈N/128⌉, kb] f32, kb = ⌈K/128⌉.

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

// out [n, kp] = w [n, k] with zero columns k..kp-1 (weights whose rows are not 16-byte aligned).
extern "C" __global__ void td_w8a8_pad_weight(signed char* out, const signed char* w, i64 n, i64 k, i64 kp) {
    const i64 total = n * kp;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {
        const i64 r = i / kp, c = i % kp;
        out[i] = c < k ? w[r * k + c] : (signed char)0;
    }
}

__device__ __forceinline__ float qm_step(float acc, int partial, float sx, float sw) {
    return __fadd_rn(acc, __fmul_rn(__fmul_rn((float)partial, sx), sw));
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
            acc[r] = qm_step(acc[r], partial, sx[(row / QM_BLOCK) * kb + b], swv);
        }
    }
#pragma unroll
    for (int r = 0; r < 16; ++r) {
        const i64 row = r0 + r;
        if (lane == r && row < m) qm_store(out, odt, bias, bdt, row, col, n, acc[r]);
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
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) part[i][j][e] = 0;
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
        const float sxv = sx[(i64)blockIdx.y * kb + b], swv = sw[(i64)blockIdx.x * kb + b];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][j][e] = qm_step(acc[i][j][e], part[i][j][e], sxv, swv);
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
