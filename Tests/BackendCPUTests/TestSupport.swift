import TensorCore
@testable import BackendCPU

/// Every test draws fresh, reproducible inputs from the engine's Philox generator.
typealias SeededGenerator = PhiloxGenerator

func randomValues(_ n: Int, _ rng: inout SeededGenerator, range: ClosedRange<Float> = -2...2) -> [Float] {
    (0..<n).map { _ in Float.random(in: range, using: &rng) }
}

func randomTensor(_ shape: [Int], _ rng: inout SeededGenerator, dtype: DType = .f32, range: ClosedRange<Float> = -2...2) throws -> Tensor {
    try Tensor.host(randomValues(shape.reduce(1, *), &rng, range: range), shape: shape, dtype: dtype)
}

/// ‖a − b‖ / ‖b‖ in double; NaN anywhere counts as an infinite error.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        if x.isNaN || y.isNaN { return .infinity }
        num += (Double(x) - y) * (Double(x) - y)
        den += y * y
    }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

func relativeError(_ a: [Float], _ b: [Float]) -> Double { relativeError(a, b.map(Double.init)) }

/// Row-major multi-index → linear index.
func linearIndex(_ idx: [Int], _ shape: [Int]) -> Int {
    var l = 0
    for (i, n) in zip(idx, shape) { l = l * n + i }
    return l
}

func multiIndex(_ linear: Int, _ shape: [Int]) -> [Int] {
    var r = linear
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = r % shape[d]; r /= shape[d] }
    return idx
}

func close(_ a: [Float], _ b: [Float], tol: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}
