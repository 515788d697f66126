// Strided copy with dtype conversion, unary functions, affine and broadcasting binary ops.
// All arithmetic is fp32; results are rounded to the output dtype (nearest even).
// Every kernel is a grid-stride loop over the n output elements in row-major order.
// Op codes are `ElementwiseOpCode.Unary/Binary` in CUDABackend+Elementwise.swift.
// The generic kernels take any strided view and switch on dtypes per element; the `_dense`
// kernels at the end take dense operands, are instantiated per dtype and move 8 elements per
// 16-byte access. Both evaluate the same `unary_op`/`binary_op` on the same fp32 values and
// round with the same conversions, so their results are bit-identical.

// out[i] = convert(in[strided(i)]), float dtypes only.
extern "C" __global__ void td_convert(void* out, int out_dt, const void* in, int in_dt, Strided s, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        store_float(out, i, out_dt, load_float(in, strided_offset(s, i), in_dt));
    }
}

// out[i] = in[strided(i)] for elements of 1, 2, 4 or 8 bytes (any dtype, no conversion).
extern "C" __global__ void td_gather(void* out, const void* in, int elem_size, Strided s, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const i64 j = strided_offset(s, i);
        switch (elem_size) {
        case 1: ((unsigned char*)out)[i] = ((const unsigned char*)in)[j]; break;
        case 2: ((u16*)out)[i] = ((const u16*)in)[j]; break;
        case 4: ((u32*)out)[i] = ((const u32*)in)[j]; break;
        default: ((u64*)out)[i] = ((const u64*)in)[j]; break;
        }
    }
}

__device__ __forceinline__ float unary_op(int op, float x, float p0, float p1) {
    switch (op) {
    case 0: return -x;
    case 1: return expf(x);
    case 2: return sqrtf(x);
    case 3: return 1.0f / sqrtf(x);
    case 4: return x * x;
    case 5: return tanhf(x);
    case 6: return 1.0f / (1.0f + expf(-x));
    case 7: return x * (1.0f / (1.0f + expf(-x)));
    case 8: return gelu_tanh(x);
    case 9: return 0.5f * x * (1.0f + erff(x * 0.70710677f));
    case 100: return x * p0 + p1;
    default: return __int_as_float(0x7fc00000);
    }
}

extern "C" __global__ void td_unary(void* out, const void* in, int dt, Strided s, i64 n, int op, float p0, float p1) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        store_float(out, i, dt, unary_op(op, load_float(in, strided_offset(s, i), dt), p0, p1));
    }
}

__device__ __forceinline__ float binary_op(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return (a != a || b != b) ? __int_as_float(0x7fc00000) : (a > b ? a : b);
    case 5: return (a != a || b != b) ? __int_as_float(0x7fc00000) : (a < b ? a : b);
    default: return __int_as_float(0x7fc00000);
    }
}

// a and b are views broadcast to the output shape (stride 0 along broadcast dims).
extern "C" __global__ void td_binary(void* out, int out_dt, const void* a, int a_dt, Strided sa,
                                     const void* b, int b_dt, Strided sb, i64 n, int op) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const float x = load_float(a, strided_offset(sa, i), a_dt);
        const float y = load_float(b, strided_offset(sb, i), b_dt);
        store_float(out, i, out_dt, binary_op(op, x, y));
    }
}

// ---- Dense kernels ----
// Dtype tags: the storage type and its exact fp32 conversions, fixed at compile time.
struct F32 {
    typedef float T;
    static __device__ __forceinline__ float get(float v) { return v; }
    static __device__ __forceinline__ float put(float v) { return v; }
};
struct BF16 {
    typedef u16 T;
    static __device__ __forceinline__ float get(u16 v) { return bf16_to_float(v); }
    static __device__ __forceinline__ u16 put(float v) { return float_to_bf16(v); }
};
struct F16 {
    typedef u16 T;
    static __device__ __forceinline__ float get(u16 v) { return half_to_float(v); }
    static __device__ __forceinline__ u16 put(float v) { return float_to_half(v); }
};

// Elements per vector step: one 16-byte access of a 2-byte dtype, two of f32.
#define EW_GROUP 8

// The split every dense kernel follows (`DenseSplit` in DenseElementwise.swift): element
// j < n of every operand is at its pointer + j. Vector steps take the `groups` groups of 8
// starting at element `head`; at element head every operand's address is 16-byte aligned (the
// host checked), so every group is. The n − 8·groups other elements — [0, head) and the tail
// after the last group; all n when nothing aligns — take scalar steps, thread i the element
// `scalar_element(i)`.
__device__ __forceinline__ i64 scalar_element(i64 i, i64 head, i64 groups) {
    return i < head ? i : i + EW_GROUP * groups;
}

template <class D> __device__ __forceinline__ void load_group(const typename D::T* __restrict__ p, float v[EW_GROUP]) {
    if constexpr (sizeof(typename D::T) == 4) {
        const float4 a = ((const float4*)p)[0], b = ((const float4*)p)[1];
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
        v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
        const uint4 q = *(const uint4*)p;
        const u32 w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; ++k) {   // little-endian: the lower half is the earlier element
            v[2 * k] = D::get((u16)(w[k] & 0xffffu));
            v[2 * k + 1] = D::get((u16)(w[k] >> 16));
        }
    }
}

template <class D> __device__ __forceinline__ void store_group(typename D::T* __restrict__ p, const float v[EW_GROUP]) {
    if constexpr (sizeof(typename D::T) == 4) {
        ((float4*)p)[0] = make_float4(v[0], v[1], v[2], v[3]);
        ((float4*)p)[1] = make_float4(v[4], v[5], v[6], v[7]);
    } else {
        u32 w[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) w[k] = (u32)D::put(v[2 * k]) | ((u32)D::put(v[2 * k + 1]) << 16);
        *(uint4*)p = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

// `unary_op`/`binary_op` with the op a constant in each case, applied to a group.
template <int OP> __device__ __forceinline__ void unary_each(float v[EW_GROUP], float p0, float p1) {
#pragma unroll
    for (int k = 0; k < EW_GROUP; ++k) v[k] = unary_op(OP, v[k], p0, p1);
}

__device__ __forceinline__ void unary_group(int op, float v[EW_GROUP], float p0, float p1) {
    switch (op) {
    case 0: unary_each<0>(v, p0, p1); break;
    case 1: unary_each<1>(v, p0, p1); break;
    case 2: unary_each<2>(v, p0, p1); break;
    case 3: unary_each<3>(v, p0, p1); break;
    case 4: unary_each<4>(v, p0, p1); break;
    case 5: unary_each<5>(v, p0, p1); break;
    case 6: unary_each<6>(v, p0, p1); break;
    case 7: unary_each<7>(v, p0, p1); break;
    case 8: unary_each<8>(v, p0, p1); break;
    case 9: unary_each<9>(v, p0, p1); break;
    case 100: unary_each<100>(v, p0, p1); break;
    default: unary_each<-1>(v, p0, p1); break;
    }
}

template <int OP> __device__ __forceinline__ void binary_each(float x[EW_GROUP], const float y[EW_GROUP]) {
#pragma unroll
    for (int k = 0; k < EW_GROUP; ++k) x[k] = binary_op(OP, x[k], y[k]);
}

__device__ __forceinline__ void binary_group(int op, float x[EW_GROUP], const float y[EW_GROUP]) {
    switch (op) {
    case 0: binary_each<0>(x, y); break;
    case 1: binary_each<1>(x, y); break;
    case 2: binary_each<2>(x, y); break;
    case 3: binary_each<3>(x, y); break;
    case 4: binary_each<4>(x, y); break;
    case 5: binary_each<5>(x, y); break;
    default: binary_each<-1>(x, y); break;
    }
}

#define EW_THREAD const i64 t = blockIdx.x * (i64)blockDim.x + threadIdx.x, step = (i64)gridDim.x * blockDim.x

// out = convert(in).
template <class DI, class DO>
__device__ __forceinline__ void convert_dense(typename DO::T* __restrict__ out, const typename DI::T* __restrict__ in,
                                              i64 head, i64 groups, i64 n) {
    EW_THREAD;
    for (i64 g = t; g < groups; g += step) {
        const i64 j = head + EW_GROUP * g;
        float v[EW_GROUP];
        load_group<DI>(in + j, v);
        store_group<DO>(out + j, v);
    }
    for (i64 i = t; i < n - EW_GROUP * groups; i += step) {
        const i64 j = scalar_element(i, head, groups);
        out[j] = DO::put(DI::get(in[j]));
    }
}

// out = f(in), one dtype.
template <class D>
__device__ __forceinline__ void unary_dense(typename D::T* __restrict__ out, const typename D::T* __restrict__ in,
                                            i64 head, i64 groups, i64 n, int op, float p0, float p1) {
    EW_THREAD;
    for (i64 g = t; g < groups; g += step) {
        const i64 j = head + EW_GROUP * g;
        float v[EW_GROUP];
        load_group<D>(in + j, v);
        unary_group(op, v, p0, p1);
        store_group<D>(out + j, v);
    }
    for (i64 i = t; i < n - EW_GROUP * groups; i += step) {
        const i64 j = scalar_element(i, head, groups);
        out[j] = D::put(unary_op(op, D::get(in[j]), p0, p1));
    }
}

// out = a ∘ b, out in a's dtype.
template <class DA, class DB>
__device__ __forceinline__ void binary_dense(typename DA::T* __restrict__ out, const typename DA::T* __restrict__ a,
                                             const typename DB::T* __restrict__ b, i64 head, i64 groups, i64 n, int op) {
    EW_THREAD;
    for (i64 g = t; g < groups; g += step) {
        const i64 j = head + EW_GROUP * g;
        float x[EW_GROUP], y[EW_GROUP];
        load_group<DA>(a + j, x);
        load_group<DB>(b + j, y);
        binary_group(op, x, y);
        store_group<DA>(out + j, x);
    }
    for (i64 i = t; i < n - EW_GROUP * groups; i += step) {
        const i64 j = scalar_element(i, head, groups);
        out[j] = DA::put(binary_op(op, DA::get(a[j]), DB::get(b[j])));
    }
}

// j % cols, in 32 bits when every index fits (`narrow`: n < 2^32).
__device__ __forceinline__ i64 column(i64 j, i64 cols, bool narrow) {
    return narrow ? (i64)((u32)j % (u32)cols) : j % cols;
}

// out[j] = a[j] ∘ b[j % cols]: b is one row repeated over the rows of a. Only out and a are in
// the split's alignment; b is read element by element (it stays in L1), or as groups when
// `bvec`: head == 0 and cols % 8 == 0 (so no group crosses a row end) and b 16-byte aligned.
template <class DO, class DA, class DB>
__device__ __forceinline__ void binary_rows_dense(typename DO::T* __restrict__ out, const typename DA::T* __restrict__ a,
                                                  const typename DB::T* __restrict__ b, i64 cols, int bvec,
                                                  i64 head, i64 groups, i64 n, int op) {
    EW_THREAD;
    const bool narrow = n <= 0xffffffffLL;
    for (i64 g = t; g < groups; g += step) {
        const i64 j = head + EW_GROUP * g;
        i64 c = column(j, cols, narrow);
        float x[EW_GROUP], y[EW_GROUP];
        load_group<DA>(a + j, x);
        if (bvec) {
            load_group<DB>(b + c, y);
        } else {
#pragma unroll
            for (int k = 0; k < EW_GROUP; ++k) {
                y[k] = DB::get(b[c]);
                c = c + 1 == cols ? 0 : c + 1;
            }
        }
        binary_group(op, x, y);
        store_group<DO>(out + j, x);
    }
    for (i64 i = t; i < n - EW_GROUP * groups; i += step) {
        const i64 j = scalar_element(i, head, groups);
        out[j] = DO::put(binary_op(op, DA::get(a[j]), DB::get(b[column(j, cols, narrow)])));
    }
}

// out[j] = a[strided(j)] ∘ b[strided(j)], out dense, for strided views whose last dim (of the output
// shape, a multiple of 8) is contiguous and whose other strides, offsets and base addresses keep every
// row start 16-byte aligned (`CUDABackend.readsInGroups`): each group of 8 lies inside one row, so one
// index computation per operand and group finds it, and it is one 16-byte access (two for f32). The
// SLA sum (a head-major attention output plus its projection in token-major order) is of this form.
template <class DA, class DB>
__device__ __forceinline__ void binary_groups(typename DA::T* __restrict__ out, const typename DA::T* __restrict__ a,
                                              const Strided& sa, const typename DB::T* __restrict__ b, const Strided& sb,
                                              i64 n, int op) {
    EW_THREAD;
    for (i64 g = t; g < n / EW_GROUP; g += step) {
        const i64 j = EW_GROUP * g;
        float x[EW_GROUP], y[EW_GROUP];
        load_group<DA>(a + strided_offset(sa, j), x);
        load_group<DB>(b + strided_offset(sb, j), y);
        binary_group(op, x, y);
        store_group<DA>(out + j, x);
    }
}

// The instantiations, named td_<kernel>_<dtype>... as `DenseSplit.kernelName` spells them.
#define EW_DENSE __global__ void __launch_bounds__(256)

#define EW_CONVERT(NI, DI, NO, DO)                                                                                   \
    extern "C" EW_DENSE td_convert_dense_##NI##_##NO(DO::T* out, const DI::T* in, i64 head, i64 groups, i64 n) { \
        convert_dense<DI, DO>(out, in, head, groups, n);                                                          \
    }
EW_CONVERT(f32, F32, bf16, BF16)
EW_CONVERT(f32, F32, f16, F16)
EW_CONVERT(bf16, BF16, f32, F32)
EW_CONVERT(bf16, BF16, f16, F16)
EW_CONVERT(f16, F16, f32, F32)
EW_CONVERT(f16, F16, bf16, BF16)

#define EW_UNARY(N, D)                                                                                            \
    extern "C" EW_DENSE td_unary_dense_##N(D::T* out, const D::T* in, i64 head, i64 groups, i64 n, int op, float p0, \
                                           float p1) {                                                            \
        unary_dense<D>(out, in, head, groups, n, op, p0, p1);                                                     \
    }
EW_UNARY(f32, F32)
EW_UNARY(bf16, BF16)
EW_UNARY(f16, F16)

#define EW_BINARY(NA, DA, NB, DB)                                                                                 \
    extern "C" EW_DENSE td_binary_dense_##NA##_##NB(DA::T* out, const DA::T* a, const DB::T* b, i64 head,        \
                                                    i64 groups, i64 n, int op) {                                  \
        binary_dense<DA, DB>(out, a, b, head, groups, n, op);                                                     \
    }
EW_BINARY(f32, F32, f32, F32)
EW_BINARY(f32, F32, bf16, BF16)
EW_BINARY(f32, F32, f16, F16)
EW_BINARY(bf16, BF16, f32, F32)
EW_BINARY(bf16, BF16, bf16, BF16)
EW_BINARY(bf16, BF16, f16, F16)
EW_BINARY(f16, F16, f32, F32)
EW_BINARY(f16, F16, bf16, BF16)
EW_BINARY(f16, F16, f16, F16)

#define EW_ROWS(NO, DO, NA, DA, NB, DB)                                                                           \
    extern "C" EW_DENSE td_binary_rows_dense_##NO##_##NA##_##NB(DO::T* out, const DA::T* a, const DB::T* b,     \
                                                                i64 cols, int bvec, i64 head, i64 groups, i64 n, \
                                                                int op) {                                         \
        binary_rows_dense<DO, DA, DB>(out, a, b, cols, bvec, head, groups, n, op);                                \
    }
// The output takes the dense operand's dtype, or for a commutative op with the row first, the row's.
EW_ROWS(f32, F32, f32, F32, f32, F32)
EW_ROWS(f32, F32, f32, F32, bf16, BF16)
EW_ROWS(f32, F32, f32, F32, f16, F16)
EW_ROWS(bf16, BF16, bf16, BF16, f32, F32)
EW_ROWS(bf16, BF16, bf16, BF16, bf16, BF16)
EW_ROWS(bf16, BF16, bf16, BF16, f16, F16)
EW_ROWS(f16, F16, f16, F16, f32, F32)
EW_ROWS(f16, F16, f16, F16, bf16, BF16)
EW_ROWS(f16, F16, f16, F16, f16, F16)
EW_ROWS(f32, F32, bf16, BF16, f32, F32)
EW_ROWS(f32, F32, f16, F16, f32, F32)
EW_ROWS(bf16, BF16, f32, F32, bf16, BF16)
EW_ROWS(bf16, BF16, f16, F16, bf16, BF16)
EW_ROWS(f16, F16, f32, F32, f16, F16)
EW_ROWS(f16, F16, bf16, BF16, f16, F16)

#define EW_GROUPS(NA, DA, NB, DB)                                                                                 \
    extern "C" EW_DENSE td_binary_groups_##NA##_##NB(DA::T* out, const DA::T* a, Strided sa, const DB::T* b,      \
                                                     Strided sb, i64 n, int op) {                                 \
        binary_groups<DA, DB>(out, a, sa, b, sb, n, op);                                                          \
    }
EW_GROUPS(f32, F32, f32, F32)
EW_GROUPS(f32, F32, bf16, BF16)
EW_GROUPS(f32, F32, f16, F16)
EW_GROUPS(bf16, BF16, f32, F32)
EW_GROUPS(bf16, BF16, bf16, BF16)
EW_GROUPS(bf16, BF16, f16, F16)
EW_GROUPS(f16, F16, f32, F32)
EW_GROUPS(f16, F16, bf16, BF16)
EW_GROUPS(f16, F16, f16, F16)
