// The CPU emulators' stand-ins for common.cu (scripts/cuda/*_emulator.cpp): fixed-width types, the CUDA
// qualifiers, dtype codes, the dtype conversions as plain C++ (round to nearest even, NaN kept quiet, as the
// PTX cvt does), the `__f*_rn` intrinsics as single IEEE operations (compile with -ffp-contract=off so none
// is fused) and the vector types. Used by the SLA and flash-attention emulators, which bring their own
// threads and blocks, and through emulator_runtime.h by the norms and W8A8-quantiser ones.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(...)
#define __shared__ static
#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2

static float bits_float(u32 b) { float f; std::memcpy(&f, &b, 4); return f; }
static u32 float_bits(float f) { u32 b; std::memcpy(&b, &f, 4); return b; }
static float __int_as_float(int b) { return bits_float((u32)b); }
static float __uint_as_float(u32 b) { return bits_float(b); }
static u32 __float_as_uint(float f) { return float_bits(f); }
static float bf16_to_float(u16 h) { return bits_float(((u32)h) << 16); }
static u16 float_to_bf16(float f) {
    u32 b = float_bits(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (u16)((b >> 16) | 0x40u);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (u16)(b >> 16);
}
static float half_to_float(u16 h) { _Float16 x; std::memcpy(&x, &h, 2); return (float)x; }
static u16 float_to_half(float f) { _Float16 x = (_Float16)f; u16 h; std::memcpy(&h, &x, 2); return h; }
static float load_float(const void* p, i64 i, int dt) {
    if (dt == DT_BF16) return bf16_to_float(((const u16*)p)[i]);
    if (dt == DT_F16) return half_to_float(((const u16*)p)[i]);
    return ((const float*)p)[i];
}
static void store_float(void* p, i64 i, int dt, float v) {
    if (dt == DT_BF16) ((u16*)p)[i] = float_to_bf16(v);
    else if (dt == DT_F16) ((u16*)p)[i] = float_to_half(v);
    else ((float*)p)[i] = v;
}
static float __fadd_rn(float a, float b) { return a + b; }
static float __fsub_rn(float a, float b) { return a - b; }
static float __fmul_rn(float a, float b) { return a * b; }
static float __fdiv_rn(float a, float b) { return a / b; }
static float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
static int __float2int_rn(float v) { return (int)std::nearbyint(v); }   // half to even in the default mode
template <class T> static T min(T a, T b) { return a < b ? a : b; }
template <class T> static T max(T a, T b) { return a < b ? b : a; }

struct float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { u32 x, y; };
struct alignas(16) uint4 { u32 x, y, z, w; };
static float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
static uint2 make_uint2(u32 a, u32 b) { return {a, b}; }
static uint4 make_uint4(u32 a, u32 b, u32 c, u32 d) { return {a, b, c, d}; }

