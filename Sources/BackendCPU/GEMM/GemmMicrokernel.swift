// The register-blocked inner kernel: a 6×16 tile of C held in 12 SIMD8<Float> accumulators
// (12 of the 16 ymm registers; 2 more hold the B row, 1 the broadcast A value).
//
// Packed layouts (see GemmPacking.swift):
//   A micro-panel: kc steps of MR = 6 consecutive floats  (a[p*6 + i] = A[i, p])
//   B micro-panel: kc steps of NR = 16 consecutive floats (b[p*16 + j] = B[p, j])
// Each k step is 2 vector loads of B, 6 broadcasts of A and 12 FMAs: FMA-bound on AVX2
// (2 FMA pipes → 6 cycles per step, 4 loads/cycle would be needed only above 8 broadcasts).

typealias V8 = SIMD8<Float>

/// LLVM's prefetch intrinsic (address, rw: 0 read / 1 write, locality 0...3, cache type 1 = data).
/// Swift has no public prefetch; binding the intrinsic by name emits a plain `prefetcht0`.
@_silgen_name("llvm.prefetch.p0")
func _gemmPrefetch(_ address: UnsafeRawPointer, _ rw: Int32, _ locality: Int32, _ cacheType: Int32)

enum GemmKernel {
    static let mr = 6
    static let nr = 16

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    @inline(__always)
    static func store(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    }

    /// C[0..<6, 0..<16] (row stride ldc) = A·B, or += A·B when `add`, over kc packed steps.
    /// The whole 6×16 tile is written: edge tiles go through a scratch tile (see `edge`).
    @inline(never)
    static func full(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, add: Bool) {
        var c00 = V8(), c01 = V8()
        var c10 = V8(), c11 = V8()
        var c20 = V8(), c21 = V8()
        var c30 = V8(), c31 = V8()
        var c40 = V8(), c41 = V8()
        var c50 = V8(), c51 = V8()
        // The C tile is read (add) or written only after the k loop; fetching its lines now hides
        // the miss (C is usually far larger than the caches) behind the kc·6 cycles of FMAs.
        do {
            var r = UnsafeRawPointer(c)
            for _ in 0..<6 {
                _gemmPrefetch(r, 1, 3, 1)
                _gemmPrefetch(r + 63, 1, 3, 1)
                r += ldc &* 4
            }
        }
        var ap = a
        var bp = b
        var p = kc
        // Two k steps per iteration: halves the loop overhead; the dependency chains through the
        // accumulators are 12 independent FMAs deep per step, enough to hide the 4-cycle FMA latency.
        while p >= 2 {
            var b0 = load(bp), b1 = load(bp + 8)
            var s = V8(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V8(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V8(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V8(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V8(repeating: ap[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V8(repeating: ap[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            b0 = load(bp + 16); b1 = load(bp + 24)
            s = V8(repeating: ap[6]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V8(repeating: ap[7]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V8(repeating: ap[8]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V8(repeating: ap[9]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V8(repeating: ap[10]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V8(repeating: ap[11]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            ap += 12
            bp += 32
            p -= 2
        }
        if p == 1 {
            let b0 = load(bp), b1 = load(bp + 8)
            var s = V8(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V8(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V8(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V8(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V8(repeating: ap[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V8(repeating: ap[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
        }
        let r0 = c, r1 = c + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc
        if add {
            c00 += load(r0); c01 += load(r0 + 8)
            c10 += load(r1); c11 += load(r1 + 8)
            c20 += load(r2); c21 += load(r2 + 8)
            c30 += load(r3); c31 += load(r3 + 8)
            c40 += load(r4); c41 += load(r4 + 8)
            c50 += load(r5); c51 += load(r5 + 8)
        }
        store(c00, r0); store(c01, r0 + 8)
        store(c10, r1); store(c11, r1 + 8)
        store(c20, r2); store(c21, r2 + 8)
        store(c30, r3); store(c31, r3 + 8)
        store(c40, r4); store(c41, r4 + 8)
        store(c50, r5); store(c51, r5 + 8)
    }

    /// A partial tile: only C[0..<rows, 0..<cols] is touched. The packed panels are zero-padded
    /// to 6×16, so the full kernel runs into `scratch` (≥ 96 floats) and the valid part is copied.
    static func edge(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, add: Bool,
                     rows: Int, cols: Int, scratch: UnsafeMutablePointer<Float>) {
        full(kc: kc, a: a, b: b, c: scratch, ldc: nr, add: false)
        for i in 0..<rows {
            let src = scratch + i * nr
            let dst = c + i * ldc
            if add {
                for j in 0..<cols { dst[j] += src[j] }
            } else {
                for j in 0..<cols { dst[j] = src[j] }
            }
        }
    }
}
