// CPU emulation of elementwise.cu (driven by emulate_elementwise.py, which writes common.cu +
// elementwise.cu + bench_elementwise.py's OLD_ROWS into elementwise_extract.inc): every dense
// kernel, launched as CUDABackend launches it (DenseSplit's head and groups, its grid), must
// write exactly what the generic strided kernel (and, for rows, the replaced td_binary_rows)
// writes, bit for bit, on odd lengths, misaligning offsets, every dtype mix and inputs salted
// with NaN, ±inf, −0 and subnormals (NaNs compare equal whatever their payload). Output buffers
// start as a poison pattern, and the bytes after them must stay untouched. Threads run one after another (the kernels never sync).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
struct Dim3 { unsigned x = 0, y = 1, z = 1; };
static Dim3 threadIdx, blockIdx, gridDim, blockDim;
#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(...)
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { u32 x, y, z, w; };
static float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static uint4 make_uint4(u32 x, u32 y, u32 z, u32 w) { return {x, y, z, w}; }
static float bits_float(u32 b) { float f; std::memcpy(&f, &b, 4); return f; }
static u32 float_bits(float f) { u32 b; std::memcpy(&b, &f, 4); return b; }
static float __uint_as_float(u32 b) { return bits_float(b); }
static u32 __float_as_uint(float f) { return float_bits(f); }
static float __int_as_float(int b) { return bits_float((u32)b); }
static float emu_half_to_float(u16 h) { _Float16 x; std::memcpy(&x, &h, 2); return (float)x; }
static u16 emu_float_to_half(float f) { _Float16 x = (_Float16)f; u16 h; std::memcpy(&h, &x, 2); return h; }
// One IEEE operation each (built with -ffp-contract=off): common.cu's gelu_tanh is written with them.
static float __fadd_rn(float a, float b) { return a + b; }
static float __fmul_rn(float a, float b) { return a * b; }
// The reductions in common.cu are not used by these kernels.
static float __shfl_xor_sync(unsigned, float, int) { std::abort(); }
static void __syncthreads() { std::abort(); }

#include "elementwise_extract.inc"

static const int GROUP = 8, BLOCK = 256, BLOCKS_PER_SM = 64;   // DenseSplit
static const char* NAMES[3] = {"f32", "bf16", "f16"};
static int SIZE[3] = {4, 2, 2};
static int failures = 0, checks = 0;

// DenseSplit(count:operands:).
static void split(i64 n, const std::vector<std::pair<const void*, int>>& ops, i64& head, i64& groups) {
    for (int h = 0; h < GROUP; ++h) {
        bool ok = true;
        for (auto& [p, size] : ops) ok = ok && ((uintptr_t)p + (uintptr_t)h * size) % 16 == 0;
        if (ok) {
            if (n - h >= GROUP) { head = h; groups = (n - h) / GROUP; return; }
            break;
        }
    }
    head = n; groups = 0;
}

template <class F> static void run(int grid, int block, F kernel) {
    gridDim.x = grid; blockDim.x = block;
    for (unsigned b = 0; b < (unsigned)grid; ++b)
        for (unsigned t = 0; t < (unsigned)block; ++t) { blockIdx.x = b; threadIdx.x = t; kernel(); }
}

static int dense_grid(i64 head, i64 groups, i64 n, int sms) {
    const i64 work = std::max(groups, n - GROUP * groups);
    return (int)std::max<i64>(1, std::min<i64>((work + BLOCK - 1) / BLOCK, (i64)sms * BLOCKS_PER_SM));
}
static int generic_grid(i64 n, int sms) { return (int)std::max<i64>(1, std::min<i64>((n + BLOCK - 1) / BLOCK, (i64)sms * 32)); }

// A 256-byte aligned buffer (as the allocator's), `offset` elements in; the bytes after the
// view are a guard.
struct Buffer {
    std::vector<unsigned char> bytes;
    unsigned char* base;
    int dt, offset;
    i64 n;
    Buffer(int dt, i64 n, int offset) : bytes((n + offset) * SIZE[dt] + 512 + 64, 0xA5), dt(dt), offset(offset), n(n) {
        base = (unsigned char*)(((uintptr_t)bytes.data() + 255) / 256 * 256);
    }
    void* p() { return base + (i64)offset * SIZE[dt]; }
    // Bitwise, except that any NaN equals any NaN: x86 propagates an input NaN's sign and payload
    // through whichever operand the compiler put first, where the GPU returns its canonical NaN.
    bool same(Buffer& o) {
        for (i64 i = 0; i < n; ++i) {
            const float x = load_float(p(), i, dt), y = load_float(o.p(), i, dt);
            if (std::isnan(x) && std::isnan(y)) continue;
            if (std::memcmp((unsigned char*)p() + i * SIZE[dt], (unsigned char*)o.p() + i * SIZE[dt], SIZE[dt]) != 0) return false;
        }
        return std::memcmp((unsigned char*)p() + n * SIZE[dt], (unsigned char*)o.p() + n * SIZE[dt], 64) == 0;   // the guard
    }
};

static float specials[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e-40f, -3e-39f, 7e4f, -1e5f, 65504.0f, 3.3895e38f};

static Buffer salted(int dt, i64 n, int offset, std::mt19937& g, bool positive = false) {
    Buffer b(dt, n, offset);
    std::normal_distribution<float> d(0.0f, 3.0f);
    for (i64 i = 0; i < n; ++i) {
        float v = d(g);
        if (positive) v = std::fabs(v) + 0.05f;
        if (!positive && n >= 20 && g() % 10 == 0) v = specials[g() % (sizeof specials / sizeof *specials)];
        store_float(b.p(), i, dt, v);
    }
    return b;
}

static void verdict(const std::string& label, bool ok) {
    ++checks;
    if (!ok) { ++failures; std::printf("MISMATCH %s\n", label.c_str()); }
}

static Strided dense_view() {
    Strided s{};
    s.linear = 1;
    for (int d = 0; d < MAX_DIMS; ++d) s.size[d] = 1;
    return s;
}

static Strided row_view(i64 rows, i64 cols) {
    Strided s = dense_view();
    s.linear = 0;
    s.size[6] = rows; s.size[7] = cols; s.stride[6] = 0; s.stride[7] = 1;
    return s;
}

// A view [n0, n1, n2] with the given element strides (Strided as StridedArgument writes it: dims
// right-aligned, no merging needed for the kernels' index arithmetic).
static Strided view3(i64 n0, i64 n1, i64 n2, i64 s0, i64 s1, i64 s2) {
    Strided s = dense_view();
    s.linear = 0;
    s.size[5] = n0; s.size[6] = n1; s.size[7] = n2;
    s.stride[5] = s0; s.stride[6] = s1; s.stride[7] = s2;
    return s;
}

// The instantiation `td_<stem>_<dtypes>`, looked up by name in this table.
typedef void (*ConvertFn)(void*, const void*, i64, i64, i64);
typedef void (*UnaryFn)(void*, const void*, i64, i64, i64, int, float, float);
typedef void (*BinaryFn)(void*, const void*, const void*, i64, i64, i64, int);
typedef void (*RowsFn)(void*, const void*, const void*, i64, int, i64, i64, i64, int);
typedef void (*GroupsFn)(void*, const void*, Strided, const void*, Strided, i64, int);
#define CV(a, b) {#a "_" #b, (ConvertFn)td_convert_dense_##a##_##b}
static std::pair<const char*, ConvertFn> converts[] = {CV(f32, bf16), CV(f32, f16), CV(bf16, f32), CV(bf16, f16), CV(f16, f32), CV(f16, bf16)};
static std::pair<const char*, UnaryFn> unaries[] = {{"f32", (UnaryFn)td_unary_dense_f32}, {"bf16", (UnaryFn)td_unary_dense_bf16},
                                                    {"f16", (UnaryFn)td_unary_dense_f16}};
#define BI(a, b) {#a "_" #b, (BinaryFn)td_binary_dense_##a##_##b}
static std::pair<const char*, BinaryFn> binaries[] = {BI(f32, f32), BI(f32, bf16), BI(f32, f16), BI(bf16, f32), BI(bf16, bf16),
                                                      BI(bf16, f16), BI(f16, f32), BI(f16, bf16), BI(f16, f16)};
#define RW(o, a, b) {#o "_" #a "_" #b, (RowsFn)td_binary_rows_dense_##o##_##a##_##b}
static std::pair<const char*, RowsFn> rowsFns[] = {
    RW(f32, f32, f32), RW(f32, f32, bf16), RW(f32, f32, f16), RW(bf16, bf16, f32), RW(bf16, bf16, bf16), RW(bf16, bf16, f16),
    RW(f16, f16, f32), RW(f16, f16, bf16), RW(f16, f16, f16), RW(f32, bf16, f32), RW(f32, f16, f32), RW(bf16, f32, bf16),
    RW(bf16, f16, bf16), RW(f16, f32, f16), RW(f16, bf16, f16)};
#define GR(a, b) {#a "_" #b, (GroupsFn)td_binary_groups_##a##_##b}
static std::pair<const char*, GroupsFn> groupsFns[] = {GR(f32, f32), GR(f32, bf16), GR(f32, f16), GR(bf16, f32), GR(bf16, bf16),
                                                       GR(bf16, f16), GR(f16, f32), GR(f16, bf16), GR(f16, f16)};
template <class T, size_t N> static T find(std::pair<const char*, T> (&table)[N], const std::string& name) {
    for (auto& [k, f] : table) if (name == k) return f;
    std::fprintf(stderr, "no instantiation %s\n", name.c_str());
    std::exit(2);
}

int main() {
    std::mt19937 g(7);
    const i64 lengths[] = {1, 7, 8, 9, 1023, 100003};
    for (int sms : {1, 132}) {
        for (int src = 0; src < 3; ++src) for (int dst = 0; dst < 3; ++dst) {
            if (src == dst) continue;
            ConvertFn f = find(converts, std::string(NAMES[src]) + "_" + NAMES[dst]);
            for (i64 n : lengths) for (int off : {0, 1, 3, 4, 8}) {
                Buffer x = salted(src, n, off, g), fresh(dst, n, 0), old(dst, n, 0);
                i64 head, groups;
                split(n, {{fresh.p(), SIZE[dst]}, {x.p(), SIZE[src]}}, head, groups);
                run(dense_grid(head, groups, n, sms), BLOCK, [&] { f(fresh.p(), x.p(), head, groups, n); });
                run(generic_grid(n, sms), BLOCK, [&] { td_convert(old.p(), dst, x.p(), src, dense_view(), n); });
                verdict("convert " + std::string(NAMES[src]) + "->" + NAMES[dst] + " n " + std::to_string(n) + " offset " +
                        std::to_string(off) + " sms " + std::to_string(sms), fresh.same(old));
            }
        }
        const int unaryOps[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 77};
        for (int dt = 0; dt < 3; ++dt) {
            UnaryFn f = find(unaries, NAMES[dt]);
            for (int op : unaryOps) for (i64 n : {(i64)7, (i64)1023, (i64)100003}) for (int off : {0, 1, 8}) {
                Buffer x = salted(dt, n, off, g, op == 2 || op == 3), fresh(dt, n, 0), old(dt, n, 0);
                i64 head, groups;
                split(n, {{fresh.p(), SIZE[dt]}, {x.p(), SIZE[dt]}}, head, groups);
                run(dense_grid(head, groups, n, sms), BLOCK, [&] { f(fresh.p(), x.p(), head, groups, n, op, 1.5f, -0.25f); });
                run(generic_grid(n, sms), BLOCK, [&] { td_unary(old.p(), x.p(), dt, dense_view(), n, op, 1.5f, -0.25f); });
                verdict("unary " + std::to_string(op) + " " + NAMES[dt] + " n " + std::to_string(n) + " offset " + std::to_string(off),
                        fresh.same(old));
            }
        }
        for (int da = 0; da < 3; ++da) for (int db = 0; db < 3; ++db) {
            BinaryFn f = find(binaries, std::string(NAMES[da]) + "_" + NAMES[db]);
            for (int op = 0; op < 7; ++op) for (i64 n : {(i64)7, (i64)1023, (i64)100003}) for (int off : {0, 1, 4, 8}) {
                Buffer a = salted(da, n, 0, g), b = salted(db, n, off, g, op == 3), fresh(da, n, 0), old(da, n, 0);
                i64 head, groups;
                split(n, {{fresh.p(), SIZE[da]}, {a.p(), SIZE[da]}, {b.p(), SIZE[db]}}, head, groups);
                run(dense_grid(head, groups, n, sms), BLOCK, [&] { f(fresh.p(), a.p(), b.p(), head, groups, n, op); });
                run(generic_grid(n, sms), BLOCK, [&] { td_binary(old.p(), da, a.p(), da, dense_view(), b.p(), db, dense_view(), n, op); });
                verdict("binary " + std::to_string(op) + " " + NAMES[da] + "*" + NAMES[db] + " n " + std::to_string(n) + " b offset " +
                        std::to_string(off) + " head " + std::to_string(head), fresh.same(old));
            }
            // Groups: out [L, H, D] row-major from a dense (or head-major) a and b head-major [H, L, D]
            // memory, or b broadcast over L; rows of D contiguous and aligned (readsInGroups).
            GroupsFn gf = find(groupsFns, std::string(NAMES[da]) + "_" + NAMES[db]);
            const i64 dims[][3] = {{37, 3, 16}, {129, 2, 24}, {64, 12, 64}, {5, 1, 8}};
            for (auto& dim : dims) for (int op = 0; op < 7; ++op) for (int form = 0; form < 3; ++form) {
                const i64 L = dim[0], H = dim[1], D = dim[2], n = L * H * D;
                Buffer a = salted(da, n, 0, g), b = salted(db, form == 2 ? H * D : n, 8, g, op == 3), fresh(da, n, 0), old(da, n, 0);
                const Strided sa = form == 1 ? view3(L, H, D, D, L * D, 1) : dense_view();
                const Strided sb = form == 2 ? view3(L, H, D, 0, D, 1) : view3(L, H, D, D, L * D, 1);
                run(dense_grid(0, n / GROUP, n, sms), BLOCK, [&] { gf(fresh.p(), a.p(), sa, b.p(), sb, n, op); });
                run(generic_grid(n, sms), BLOCK, [&] { td_binary(old.p(), da, a.p(), da, sa, b.p(), db, sb, n, op); });
                verdict("groups " + std::to_string(op) + " " + NAMES[da] + "*" + NAMES[db] + " [" + std::to_string(L) + "," +
                        std::to_string(H) + "," + std::to_string(D) + "] form " + std::to_string(form), fresh.same(old));
            }
            // Rows: the dense operand da, the row db; swapped: out in the row's dtype (add/mul with the row first).
            const i64 shapes[][2] = {{37, 9}, {129, 3}, {33, 64}, {1031, 1}, {40, 1536}, {5, 8}, {3, 16}};
            // Offsets (dense operand, row): aligned, the row misaligned, the dense operand never aligned,
            // a head of 4 (2-byte operand into an f32 output), an aligned row at an offset.
            const int offsets[][2] = {{0, 0}, {0, 3}, {1, 0}, {4, 8}, {0, 8}};
            const std::pair<int, bool> opsSwapped[] = {{0, false}, {2, false}, {1, false}, {4, false}, {5, false}, {0, true}, {2, true}};
            for (auto& shape : shapes) for (auto& [aOff, rowOff] : offsets) for (auto& [op, swapped] : opsSwapped) {
                    const i64 rows = shape[0], cols = shape[1], n = rows * cols;
                    const int dout = swapped ? db : da;
                    RowsFn f = find(rowsFns, std::string(NAMES[dout]) + "_" + NAMES[da] + "_" + NAMES[db]);
                    Buffer a = salted(da, n, aOff, g), row = salted(db, cols, rowOff, g), fresh(dout, n, 0), old(dout, n, 0),
                           generic(dout, n, 0);
                    i64 head, groups;
                    split(n, {{fresh.p(), SIZE[dout]}, {a.p(), SIZE[da]}}, head, groups);
                    const bool inGroups = groups > 0 && head == 0 && cols % GROUP == 0 && (uintptr_t)row.p() % 16 == 0;
                    run(dense_grid(head, groups, n, sms), BLOCK, [&] { f(fresh.p(), a.p(), row.p(), cols, inGroups, head, groups, n, op); });
                    run(generic_grid(n, sms), BLOCK, [&] { td_binary_rows(old.p(), dout, a.p(), da, 0, row.p(), db, 0, cols, n, op); });
                    run(generic_grid(n, sms), BLOCK, [&] {
                        td_binary(generic.p(), dout, a.p(), da, dense_view(), row.p(), db, row_view(rows, cols), n, op);
                    });
                    verdict("rows " + std::to_string(op) + (swapped ? " swapped " : " ") + NAMES[da] + "*" + NAMES[db] + " [" +
                            std::to_string(rows) + "," + std::to_string(cols) + "] offsets " + std::to_string(aOff) + "/" +
                            std::to_string(rowOff) + " head " + std::to_string(head) + " in groups " + std::to_string(inGroups),
                            fresh.same(old) && fresh.same(generic));
                }
        }
    }
    std::printf("%d checks, %d mismatches\n", checks, failures);
    return failures ? 1 : 0;
}
