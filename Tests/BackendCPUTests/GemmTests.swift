import Testing
import TensorCore
@testable import BackendCPU

// CPUGemm against a Float64 reference computed from the same (widened) operand values.
// Small blockings (mc/kc/nc of a few micro-tiles) exercise multi-block, edge-tile and
// multi-thread paths on sizes that stay cheap in a debug build.

/// The engine's Philox generator with the two draws these tests use.
private struct GemmRNG {
    var generator: PhiloxGenerator
    init(state: UInt64) { generator = PhiloxGenerator(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
    /// Integer in -4...4.
    mutating func smallInt() -> Float { Float(Int(next() % 9) - 4) }
}

/// How a logical rows×cols matrix is laid out in its storage.
private enum Layout: CaseIterable, CustomStringConvertible {
    case rowMajor      // rowStride = cols + pad, colStride = 1
    case columnMajor   // rowStride = 1, colStride = rows + pad (e.g. Wᵀ of a Linear weight)
    case strided       // both strides non-unit
    case reversed      // negative strides: element (0,0) is the last one in memory

    var description: String {
        switch self {
        case .rowMajor: "rowMajor"
        case .columnMajor: "columnMajor"
        case .strided: "strided"
        case .reversed: "reversed"
        }
    }
}

/// A matrix stored in `dtype` with a given layout; `values` are the exact widened values.
private final class TestMatrix {
    let rows: Int, cols: Int, dtype: DType
    let storage: UnsafeMutableRawPointer
    let operand: MatrixOperand
    var values: [Double]

    init(rows: Int, cols: Int, dtype: DType, layout: Layout, rng: inout GemmRNG, integers: Bool = false) {
        self.rows = rows; self.cols = cols; self.dtype = dtype
        let pad = 3
        let (rs, cs, extent, origin): (Int, Int, Int, Int)
        switch layout {
        case .rowMajor: (rs, cs) = (cols + pad, 1); extent = rows * (cols + pad) + 1; origin = 0
        case .columnMajor: (rs, cs) = (1, rows + pad); extent = cols * (rows + pad) + 1; origin = 0
        case .strided: (rs, cs) = (2 * cols + 5, 2); extent = rows * (2 * cols + 5) + 1; origin = 0
        case .reversed:
            (rs, cs) = (-(cols + pad), -1)
            extent = rows * (cols + pad) + 1
            origin = max(0, (rows - 1) * (cols + pad) + (cols - 1))
        }
        storage = .allocate(byteCount: extent * dtype.byteSize, alignment: 64)
        // Bytes outside the matrix hold NaN patterns: reading them would poison the result.
        if dtype == .f32 {
            storage.bindMemory(to: Float.self, capacity: extent).initialize(repeating: .nan, count: extent)
        } else {
            storage.bindMemory(to: UInt16.self, capacity: extent).initialize(repeating: 0x7FC0, count: extent)  // NaN as bf16 and as f16
        }
        values = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let v = integers ? rng.smallInt() : rng.uniform()
                let i = origin + r * rs + c * cs
                let stored: Float
                switch dtype {
                case .f32: storage.assumingMemoryBound(to: Float.self)[i] = v; stored = v
                case .bf16:
                    let bits = BF16.bits(v)
                    storage.assumingMemoryBound(to: UInt16.self)[i] = bits; stored = BF16.float(bits)
                default:
                    let bits = FP16.bits(v)
                    storage.assumingMemoryBound(to: UInt16.self)[i] = bits; stored = FP16.float(bits)
                }
                values[r * cols + c] = Double(stored)
            }
        }
        let base = UnsafeRawPointer(storage) + origin * dtype.byteSize
        operand = MatrixOperand(base: base, dtype: dtype, rowStride: rs, colStride: cs)
    }

    deinit { storage.deallocate() }
}

/// Result of one multiply checked against the Float64 reference.
private struct GemmOutcome {
    var relativeError: Double
    var maxAbsError: Double
    var paddingIntact: Bool
}

/// Runs C = A·B (or C += A·B) with C poisoned (NaN) or random, and padding columns
/// (ldc > n) holding a sentinel that must survive.
private func runGemm(m: Int, n: Int, k: Int, a: TestMatrix, b: TestMatrix, accumulate: Bool,
                     threads: Int? = nil, blocking: GemmBlocking? = nil, rng: inout GemmRNG) -> GemmOutcome {
    let ldc = n + 2
    let sentinel = Float(bitPattern: 0x7FC1_2345)
    var c = [Float](repeating: sentinel, count: max(1, m * ldc))
    var reference = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            let initial: Float = accumulate ? rng.uniform() : .nan
            c[i * ldc + j] = initial
            var s = accumulate ? Double(initial) : 0
            for p in 0..<k { s += a.values[i * k + p] * b.values[p * n + j] }
            reference[i * n + j] = s
        }
    }
    c.withUnsafeMutableBufferPointer { cp in
        if let threads, let blocking {
            CPUGemm.multiply(m: m, n: n, k: k, a: a.operand, b: b.operand, c: cp.baseAddress!, ldc: ldc,
                             accumulate: accumulate, threads: threads, blocking: blocking)
        } else {
            CPUGemm.multiply(m: m, n: n, k: k, a: a.operand, b: b.operand, c: cp.baseAddress!, ldc: ldc,
                             accumulate: accumulate)
        }
    }
    var num = 0.0, den = 0.0, maxAbs = 0.0
    var intact = true
    for i in 0..<m {
        for j in 0..<n {
            let x = Double(c[i * ldc + j]), y = reference[i * n + j]
            let d = x.isNaN ? .infinity : abs(x - y)
            num += d * d
            den += y * y
            maxAbs = max(maxAbs, d)
        }
        for j in n..<ldc where c[i * ldc + j].bitPattern != sentinel.bitPattern { intact = false }
    }
    let rel = den == 0 ? num.squareRoot() : (num / den).squareRoot()
    return GemmOutcome(relativeError: rel, maxAbsError: maxAbs, paddingIntact: intact)
}

@Suite struct GemmTests {
    /// (m, n, k) covering zeros, ones, non-multiples of 6/16 and several blocks of the tiny blocking.
    static let shapes: [(Int, Int, Int)] = [
        (0, 5, 3), (5, 0, 3), (4, 7, 0), (1, 1, 1), (1, 33, 5), (7, 1, 9), (6, 16, 8),
        (5, 15, 17), (13, 35, 40), (31, 50, 67), (64, 48, 32),
    ]
    static let tiny = GemmBlocking(mc: 12, kc: 16, nc: 32)

    @Test(arguments: [false, true])
    func smallShapesAllLayouts(accumulate: Bool) {
        var rng = GemmRNG(state: accumulate ? 11 : 10)
        for (m, n, k) in Self.shapes {
            for la in Layout.allCases {
                for lb in Layout.allCases {
                    for threads in [1, 3] {
                        let a = TestMatrix(rows: m, cols: k, dtype: .f32, layout: la, rng: &rng)
                        let b = TestMatrix(rows: k, cols: n, dtype: .f32, layout: lb, rng: &rng)
                        let r = runGemm(m: m, n: n, k: k, a: a, b: b, accumulate: accumulate,
                                        threads: threads, blocking: Self.tiny, rng: &rng)
                        #expect(r.relativeError <= 1e-5,
                                "m=\(m) n=\(n) k=\(k) A \(la) B \(lb) threads \(threads): rel \(r.relativeError)")
                        #expect(r.paddingIntact, "m=\(m) n=\(n) k=\(k) A \(la) B \(lb): wrote past n")
                    }
                }
            }
        }
    }

    /// Narrow dtypes are widened exactly, so the f32 bound still holds against the widened values.
    @Test(arguments: [(DType.bf16, DType.f32), (.f16, .f32), (.f32, .bf16), (.f32, .f16), (.bf16, .bf16), (.f16, .bf16)])
    func narrowTypes(aType: DType, bType: DType) {
        var rng = GemmRNG(state: 20 + UInt64(aType.byteSize * 3 + bType.rawValue.count))
        for (m, n, k) in [(1, 1, 1), (5, 15, 17), (13, 35, 40), (31, 50, 67)] {
            for (la, lb) in [(Layout.rowMajor, Layout.columnMajor), (.columnMajor, .rowMajor), (.strided, .reversed)] {
                let a = TestMatrix(rows: m, cols: k, dtype: aType, layout: la, rng: &rng)
                let b = TestMatrix(rows: k, cols: n, dtype: bType, layout: lb, rng: &rng)
                for accumulate in [false, true] {
                    let r = runGemm(m: m, n: n, k: k, a: a, b: b, accumulate: accumulate,
                                    threads: 2, blocking: Self.tiny, rng: &rng)
                    #expect(r.relativeError <= 1e-5, "\(aType)·\(bType) m=\(m) n=\(n) k=\(k) \(la)/\(lb): \(r.relativeError)")
                    #expect(r.paddingIntact)
                }
            }
        }
    }

    /// Integer-valued inputs: every partial sum is an exactly representable integer, so the
    /// result must match bit for bit, whatever the blocking or summation order.
    @Test func integerValuedExact() {
        var rng = GemmRNG(state: 30)
        let blockings = [Self.tiny, GemmBlocking(mc: 6, kc: 1, nc: 16), GemmBlocking(mc: 18, kc: 7, nc: 48), .default]
        for (m, n, k) in [(1, 1, 1), (6, 16, 3), (7, 17, 33), (20, 40, 50)] {
            for dtype in [DType.f32, .bf16, .f16] {
                for blocking in blockings {
                    let a = TestMatrix(rows: m, cols: k, dtype: dtype, layout: .rowMajor, rng: &rng, integers: true)
                    let b = TestMatrix(rows: k, cols: n, dtype: dtype, layout: .columnMajor, rng: &rng, integers: true)
                    let r = runGemm(m: m, n: n, k: k, a: a, b: b, accumulate: false,
                                    threads: 2, blocking: blocking, rng: &rng)
                    #expect(r.maxAbsError == 0, "\(dtype) m=\(m) n=\(n) k=\(k) \(blocking): max error \(r.maxAbsError)")
                    #expect(r.paddingIntact)
                }
            }
        }
    }

    /// A 2×2 product worked by hand.
    @Test func handComputed() {
        let a: [Float] = [1, 2, 3, 4]          // [[1, 2], [3, 4]]
        let w: [UInt16] = [5, 6, 7, 8].map { BF16.bits($0) }   // W [[5, 6], [7, 8]], B = Wᵀ
        var c: [Float] = [.nan, .nan, .nan, .nan]
        a.withUnsafeBytes { ap in
            w.withUnsafeBytes { wp in
                c.withUnsafeMutableBufferPointer { cp in
                    CPUGemm.multiply(m: 2, n: 2, k: 2,
                                     a: MatrixOperand(base: ap.baseAddress!, dtype: .f32, rowStride: 2, colStride: 1),
                                     b: MatrixOperand(base: wp.baseAddress!, dtype: .bf16, rowStride: 1, colStride: 2),
                                     c: cp.baseAddress!, ldc: 2, accumulate: false)
                }
            }
        }
        // A·Wᵀ = [[1·5+2·6, 1·7+2·8], [3·5+4·6, 3·7+4·8]]
        #expect(c == [17, 23, 39, 53])
    }

    /// The public entry point with the production blocking: more than one block in m (>144),
    /// k (>256) and both threads busy, plus a small-m shape where columns are split instead.
    @Test func productionBlocking() {
        var rng = GemmRNG(state: 40)
        for (m, n, k, la, lb, bType) in [
            (150, 40, 260, Layout.rowMajor, Layout.columnMajor, DType.bf16),
            (3, 200, 300, .rowMajor, .rowMajor, .f32),
            (290, 33, 20, .columnMajor, .columnMajor, .f16),
        ] {
            let a = TestMatrix(rows: m, cols: k, dtype: .f32, layout: la, rng: &rng)
            let b = TestMatrix(rows: k, cols: n, dtype: bType, layout: lb, rng: &rng)
            for accumulate in [false, true] {
                let r = runGemm(m: m, n: n, k: k, a: a, b: b, accumulate: accumulate, rng: &rng)
                #expect(r.relativeError <= 1e-5, "m=\(m) n=\(n) k=\(k): \(r.relativeError)")
                #expect(r.paddingIntact)
            }
        }
    }

    /// Wider than the B block (n > nc) with the production kernel and 2 threads.
    @Test func severalColumnBlocks() {
        var rng = GemmRNG(state: 50)
        let a = TestMatrix(rows: 20, cols: 24, dtype: .f32, layout: .rowMajor, rng: &rng)
        let b = TestMatrix(rows: 24, cols: 100, dtype: .bf16, layout: .columnMajor, rng: &rng)
        let r = runGemm(m: 20, n: 100, k: 24, a: a, b: b, accumulate: false,
                        threads: 2, blocking: GemmBlocking(mc: 144, kc: 256, nc: 32), rng: &rng)
        #expect(r.relativeError <= 1e-5)
        #expect(r.paddingIntact)
    }
}
