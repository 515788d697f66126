// Definitions shared by every kernel family: fixed-width types, dtype codes, bf16/f16
// conversions written with PTX `cvt` (round to nearest even, no CUDA headers needed),
// strided indexing and warp/block reductions. Prepended to each family's source
// (KernelFamily in Launch.swift); NVRTC ships no CUDA headers, so nothing is #included.
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// Dtype codes passed to kernels; must match `CUDABackend.dtypeCode`.
#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2

__device__ __forceinline__ float bf16_to_float(u16 h) { return __uint_as_float(((u32)h) << 16); }

__device__ __forceinline__ u16 float_to_bf16(float f) {
#if __CUDA_ARCH__ >= 800
    u16 r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
#else
    u32 b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (u16)((b >> 16) | 0x40u);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (u16)(b >> 16);
#endif
}

__device__ __forceinline__ float half_to_float(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ u16 float_to_half(float f) {
    u16 r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
}

__device__ __forceinline__ float load_float(const void* p, i64 i, int dt) {
    if (dt == DT_BF16) return bf16_to_float(((const u16*)p)[i]);
    if (dt == DT_F16) return half_to_float(((const u16*)p)[i]);
    return ((const float*)p)[i];
}

__device__ __forceinline__ void store_float(void* p, i64 i, int dt, float v) {
    if (dt == DT_BF16) ((u16*)p)[i] = float_to_bf16(v);
    else if (dt == DT_F16) ((u16*)p)[i] = float_to_half(v);
    else ((float*)p)[i] = v;
}

// GELU(tanh) with every operation rounded as written, in the CPU's order (no contraction into fma), for
// the W8A8 GEMM's epilogue (QM_GELU); the elementwise op is to use it too, so that both give the same
// value for the same input, when that epilogue is enabled.
__device__ __forceinline__ float gelu_tanh(float x) {
    const float cube = __fmul_rn(__fmul_rn(__fmul_rn(0.044715f, x), x), x);
    return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(__fmul_rn(0.79788456f, __fadd_rn(x, cube)))));
}

// A strided view: element i (row-major over size[]) lives at offset + Σ index_d·stride[d].
// Dimensions are right-aligned in the 8 slots; unused leading slots have size 1.
// linear != 0 means the view is dense and element i is at offset + i.
#define MAX_DIMS 8
struct Strided {
    i64 linear;
    i64 offset;
    i64 size[MAX_DIMS];
    i64 stride[MAX_DIMS];
};

__device__ __forceinline__ i64 strided_offset(const Strided& s, i64 i) {
    if (s.linear) return s.offset + i;
    i64 off = s.offset;
#pragma unroll
    for (int d = MAX_DIMS - 1; d >= 0; --d) {
        const i64 n = s.size[d];
        if (n != 1) {
            const i64 q = i / n;
            off += (i - q * n) * s.stride[d];
            i = q;
        }
    }
    return off;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Reductions over the whole block (blockDim.x a multiple of 32, at most 1024). Every thread
// gets the result. `scratch` holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
    return warp_max(v);
}
