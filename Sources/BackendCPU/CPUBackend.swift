import TensorCore

/// The reference backend: every op in fp32 arithmetic on host memory, multithreaded over
/// `Parallel.threadCount` cores. Ops run to completion before returning. It is the oracle
/// the CUDA backend is tested against, so clarity of the math wins over cleverness.
public final class CPUBackend: Backend, @unchecked Sendable {
    public let device = Device.cpu
    public var name: String { "cpu (\(Parallel.threadCount) threads)" }

    public init() {}

    // MARK: Memory

    public func empty(_ shape: [Int], dtype: DType) throws -> Tensor {
        try Tensor.hostEmpty(shape, dtype: dtype)
    }

    public func upload(_ t: Tensor) throws -> Tensor {
        try requireHost(t, "upload")
        return t
    }

    public func toHost(_ t: Tensor) throws -> Tensor {
        try requireHost(t, "toHost")
        return t
    }

    public func synchronize() throws {}

    func requireHost(_ t: Tensor, _ op: String) throws {
        guard t.buffer is HostBuffer else {
            throw TensorError.invalidArgument("\(op): tensor lives on \(t.device), the CPU backend needs host tensors")
        }
    }

    // MARK: Layout

    public func contiguous(_ x: Tensor, dtype: DType?) throws -> Tensor {
        try requireHost(x, "contiguous")
        let out = try empty(x.shape, dtype: dtype ?? x.dtype)
        StridedCopy.copy(x, into: out)
        return out
    }

    public func concat(_ xs: [Tensor], dim: Int) throws -> Tensor {
        guard let first = xs.first else { throw TensorError.invalidArgument("concat of no tensors") }
        let d = try first.axis(dim)
        for x in xs {
            try requireHost(x, "concat")
            guard x.rank == first.rank, x.dtype == first.dtype,
                  x.shape.enumerated().allSatisfy({ $0.offset == d || $0.element == first.shape[$0.offset] }) else {
                throw TensorError.shapeMismatch("concat along \(d): \(xs.map { "\($0.dtype)\($0.shape)" }.joined(separator: ", "))")
            }
        }
        var shape = first.shape
        shape[d] = xs.reduce(0) { $0 + $1.shape[d] }
        let out = try empty(shape, dtype: first.dtype)
        var start = 0
        for x in xs {
            StridedCopy.copy(x, into: try out.narrowed(dim: d, start: start, length: x.shape[d]))
            start += x.shape[d]
        }
        return out
    }

    public func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor {
        try requireHost(x, "pad")
        guard padding.count <= x.rank, padding.allSatisfy({ $0.before >= 0 && $0.after >= 0 }) else {
            throw TensorError.invalidArgument("pad \(padding) for shape \(x.shape) (only non-negative padding of existing dims)")
        }
        let lead = x.rank - padding.count
        var shape = x.shape
        for (i, p) in padding.enumerated() { shape[lead + i] += p.before + p.after }
        let out = try empty(shape, dtype: x.dtype)
        let p = out.rawBase
        let n = out.count, dt = out.dtype
        if value == 0 {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: out.byteCount)
        } else {
            Parallel.forRanges(n, minChunk: 65_536) { r in for i in r { storeFloat(value, p, i, dt) } }
        }
        var inner = out
        for (i, pd) in padding.enumerated() {
            inner = try inner.narrowed(dim: lead + i, start: pd.before, length: x.shape[lead + i])
        }
        StridedCopy.copy(x, into: inner)
        return out
    }
}
