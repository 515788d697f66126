import TensorCore

// Packing copies a block of an operand into micro-panels the microkernel streams linearly,
// widening bf16/f16 to f32 on the way. Rows/columns past the matrix edge are zero-filled, so
// edge tiles can run the full kernel (zero contributions) and discard the padding.
//
//   packA: rows [r0, r0+mc) × k [p0, p0+kc) → ceil(mc/6) panels of kc×6 floats
//   packB: k [p0, p0+kc) × cols [c0, c0+nc) → ceil(nc/16) panels of kc×16 floats

/// Widening element reader, specialised per storage type so the packing loops have no switch.
protocol GemmElement {
    static func widen(_ base: UnsafeRawPointer, _ index: Int) -> Float
}

enum GemmF32: GemmElement {
    @inline(__always)
    static func widen(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        base.assumingMemoryBound(to: Float.self)[index]
    }
}

enum GemmBF16: GemmElement {
    @inline(__always)
    static func widen(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(base.assumingMemoryBound(to: UInt16.self)[index]) &<< 16)
    }
}

enum GemmF16: GemmElement {
    @inline(__always)
    static func widen(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(Float16(bitPattern: base.assumingMemoryBound(to: UInt16.self)[index]))
    }
}

/// A source of packed B micro-panels (see `GemmPack.packB` for the layout). Called concurrently
/// for disjoint panel ranges of one block.
protocol GemmBSource {
    func packB(p0: Int, kc: Int, c0: Int, nc: Int, panels: Range<Int>, dst: UnsafeMutablePointer<Float>)
}

extension MatrixOperand: GemmBSource {
    func packB(p0: Int, kc: Int, c0: Int, nc: Int, panels: Range<Int>, dst: UnsafeMutablePointer<Float>) {
        GemmPack.packB(self, p0: p0, kc: kc, c0: c0, nc: nc, panels: panels, dst: dst)
    }
}

enum GemmPack {
    /// Packs panel-major A micro-panels for rows [r0, r0+mc), k [p0, p0+kc) into `dst`
    /// (capacity ceil(mc/6)·6·kc floats). Panels are laid out back to back, each kc·6 floats.
    static func packA(_ a: MatrixOperand, r0: Int, mc: Int, p0: Int, kc: Int, dst: UnsafeMutablePointer<Float>) {
        switch a.dtype {
        case .f32: packA(GemmF32.self, a, r0: r0, mc: mc, p0: p0, kc: kc, dst: dst)
        case .bf16: packA(GemmBF16.self, a, r0: r0, mc: mc, p0: p0, kc: kc, dst: dst)
        default: packA(GemmF16.self, a, r0: r0, mc: mc, p0: p0, kc: kc, dst: dst)
        }
    }

    /// Packs B micro-panels for k [p0, p0+kc), columns [c0 + 16·panels.lowerBound, …) into
    /// `dst` + 16·kc·panel, for each panel index in `panels` (panel q covers columns c0+16q ..< c0+16q+16,
    /// clipped to c0+nc).
    static func packB(_ b: MatrixOperand, p0: Int, kc: Int, c0: Int, nc: Int, panels: Range<Int>,
                      dst: UnsafeMutablePointer<Float>) {
        switch b.dtype {
        case .f32: packB(GemmF32.self, b, p0: p0, kc: kc, c0: c0, nc: nc, panels: panels, dst: dst)
        case .bf16: packB(GemmBF16.self, b, p0: p0, kc: kc, c0: c0, nc: nc, panels: panels, dst: dst)
        default: packB(GemmF16.self, b, p0: p0, kc: kc, c0: c0, nc: nc, panels: panels, dst: dst)
        }
    }

    // MARK: A

    @inline(never)
    static func packA<E: GemmElement>(_: E.Type, _ a: MatrixOperand, r0: Int, mc: Int, p0: Int, kc: Int,
                                      dst: UnsafeMutablePointer<Float>) {
        let mr = GemmKernel.mr
        let rs = a.rowStride, cs = a.colStride
        var out = dst
        var i0 = 0
        while i0 < mc {
            let rows = min(mr, mc - i0)
            let origin = (r0 + i0) &* rs &+ p0 &* cs   // element index of A[r0+i0, p0]
            if rows == mr && cs == 1 {
                // Row-contiguous A (the common activation layout): six sequential read streams.
                let q0 = origin, q1 = q0 &+ rs, q2 = q1 &+ rs, q3 = q2 &+ rs, q4 = q3 &+ rs, q5 = q4 &+ rs
                for p in 0..<kc {
                    let o = out + p &* 6
                    o[0] = E.widen(a.base, q0 &+ p)
                    o[1] = E.widen(a.base, q1 &+ p)
                    o[2] = E.widen(a.base, q2 &+ p)
                    o[3] = E.widen(a.base, q3 &+ p)
                    o[4] = E.widen(a.base, q4 &+ p)
                    o[5] = E.widen(a.base, q5 &+ p)
                }
            } else if rows == mr && rs == 1 {
                // Column-contiguous A (a transposed view): each k step is six consecutive elements.
                for p in 0..<kc {
                    let q = origin &+ p &* cs
                    let o = out + p &* 6
                    for i in 0..<6 { o[i] = E.widen(a.base, q &+ i) }
                }
            } else {
                for p in 0..<kc {
                    let q = origin &+ p &* cs
                    let o = out + p &* mr
                    for i in 0..<rows { o[i] = E.widen(a.base, q &+ i &* rs) }
                    for i in rows..<mr { o[i] = 0 }
                }
            }
            out += kc &* mr
            i0 += mr
        }
    }

    // MARK: B

    @inline(never)
    static func packB<E: GemmElement>(_: E.Type, _ b: MatrixOperand, p0: Int, kc: Int, c0: Int, nc: Int,
                                      panels: Range<Int>, dst: UnsafeMutablePointer<Float>) {
        let nr = GemmKernel.nr
        let rs = b.rowStride, cs = b.colStride
        for q in panels {
            let j0 = q &* nr
            let cols = min(nr, nc - j0)
            let out = dst + q &* kc &* nr
            let origin = p0 &* rs &+ (c0 &+ j0) &* cs   // element index of B[p0, c0+j0]
            if cols == nr && cs == 1 {
                // Row-contiguous B: each k step copies 16 consecutive elements.
                for p in 0..<kc {
                    let q = origin &+ p &* rs
                    let o = out + p &* nr
                    for j in 0..<nr { o[j] = E.widen(b.base, q &+ j) }
                }
            } else if abs(rs) <= abs(cs) {
                // Column-major-ish B (e.g. a Linear weight W[N, K] viewed as Wᵀ, rs = 1): read each
                // column sequentially along k, scatter into the panel with stride 16.
                for j in 0..<cols {
                    let q = origin &+ j &* cs
                    let o = out + j
                    for p in 0..<kc { o[p &* nr] = E.widen(b.base, q &+ p &* rs) }
                }
                if cols < nr {
                    for p in 0..<kc { for j in cols..<nr { out[p &* nr &+ j] = 0 } }
                }
            } else {
                for p in 0..<kc {
                    let q = origin &+ p &* rs
                    let o = out + p &* nr
                    for j in 0..<cols { o[j] = E.widen(b.base, q &+ j &* cs) }
                    for j in cols..<nr { o[j] = 0 }
                }
            }
        }
    }
}
