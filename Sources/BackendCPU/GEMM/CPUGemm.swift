import TensorCore

public enum CPUGemm {
    /// C[m, n] (row stride ldc, unit column stride, f32) = A[m, k] · B[k, n], or C += A·B when accumulate.
    /// Multithreaded over Parallel.threadCount; f32 accumulation. m, n or k may be 0.
    public static func multiply(m: Int, n: Int, k: Int, a: MatrixOperand, b: MatrixOperand,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM dimension")
        if m == 0 || n == 0 { return }
        // Simple version: B widened to a dense row-major [k, n] f32 copy, rows of C in parallel.
        let bf = UnsafeMutablePointer<Float>.allocate(capacity: max(k * n, 1))
        defer { bf.deallocate() }
        Parallel.forRanges(k, minChunk: 16) { rows in
            for p in rows { for j in 0..<n { bf[p * n + j] = b.element(p, j) } }
        }
        Parallel.forRanges(m, minChunk: 4) { rows in
            let arow = UnsafeMutablePointer<Float>.allocate(capacity: max(k, 1))
            defer { arow.deallocate() }
            for i in rows {
                for p in 0..<k { arow[p] = a.element(i, p) }
                let crow = c + i * ldc
                if !accumulate { crow.update(repeating: 0, count: n) }
                for p in 0..<k {
                    let s = arow[p]
                    let brow = bf + p * n
                    for j in 0..<n { crow[j] += s * brow[j] }
                }
            }
        }
    }
}
