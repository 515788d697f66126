import CCUDA
import TensorCore

/// Op codes of `elementwise.cu`'s `unary_op` / `binary_op` switches.
enum ElementwiseOpCode {
    enum Unary: Int32 {
        case neg = 0, exp, sqrt, rsqrt, square, tanh, sigmoid, silu, geluTanh, geluErf
        case affine = 100
    }

    enum Binary: Int32 {
        case add = 0, sub, mul, div, maximum, minimum
    }
}

extension CUDABackend {
    /// Kernel dtype code (Kernels/Common.swift) of the float dtypes the kernels compute on.
    static func dtypeCode(_ dtype: DType) -> Int32? {
        switch dtype {
        case .f32: 0
        case .bf16: 1
        case .f16: 2
        default: nil
        }
    }

    func floatCode(_ dtype: DType, _ op: String) throws -> Int32 {
        guard let c = Self.dtypeCode(dtype) else {
            throw TensorError.unsupported("\(op) on \(dtype) on CUDA (f32, bf16 and f16 are supported)")
        }
        return c
    }

    // MARK: Layout

    /// A tensor that already is row-major, in `dtype` and spans its whole buffer is returned as is
    /// (tensors are never written after their op, so sharing is unobservable; a view of part of a
    /// buffer is still copied, so the copy can free the rest).
    public func contiguous(_ x: Tensor, dtype: DType?) throws -> Tensor {
        _ = try deviceBuffer(x, "contiguous")
        let target = dtype ?? x.dtype
        if target == x.dtype && x.isWholeBuffer { return x }
        try activate()
        let out = try empty(x.shape, dtype: target)
        let n = x.count
        guard n > 0 else { return out }
        if target == x.dtype {
            if try !copyWithDriver(x, into: out, "contiguous"), try !copyRuns(x, into: out, "contiguous") {
                let (grid, block) = elementwiseGrid(n)
                try launch(.elementwise, "td_gather", grid: grid, block: block, [
                    .pointer(try address(out)), .pointer(try deviceBuffer(x, "contiguous").address),
                    .int32(Int32(x.dtype.byteSize)), .strided(try StridedArgument(x)), .int64(Int64(n)),
                ])
            }
            return out
        }
        let inCode = try floatCode(x.dtype, "contiguous from \(x.dtype) to \(target)")
        let outCode = try floatCode(target, "contiguous from \(x.dtype) to \(target)")
        if try StridedArgument(x).isLinear, let kernel = DenseSplit.kernelName("convert_dense", x.dtype, target) {
            let (o, i) = (try address(out), try address(x))
            let split = DenseSplit(count: n, operands: [(o, target.byteSize), (i, x.dtype.byteSize)])
            try launchDense(kernel, split, leading: [.pointer(o), .pointer(i)])
            return out
        }
        let (grid, block) = elementwiseGrid(n)
        try launch(.elementwise, "td_convert", grid: grid, block: block, [
            .pointer(try address(out)), .int32(outCode),
            .pointer(try deviceBuffer(x, "contiguous").address), .int32(inCode),
            .strided(try StridedArgument(x)), .int64(Int64(n)),
        ])
        return out
    }

    // MARK: Elementwise

    static func unaryCode(_ op: UnaryOp) -> ElementwiseOpCode.Unary {
        switch op {
        case .neg: .neg
        case .exp: .exp
        case .sqrt: .sqrt
        case .rsqrt: .rsqrt
        case .square: .square
        case .tanh: .tanh
        case .sigmoid: .sigmoid
        case .silu: .silu
        case .geluTanh: .geluTanh
        case .geluErf: .geluErf
        }
    }

    static func binaryCode(_ op: BinaryOp) -> ElementwiseOpCode.Binary {
        switch op {
        case .add: .add
        case .sub: .sub
        case .mul: .mul
        case .div: .div
        case .maximum: .maximum
        case .minimum: .minimum
        }
    }

    /// td_unary (td_unary_dense for a dense x): out = f(x) elementwise, same dtype as x, contiguous.
    private func mapUnary(_ code: ElementwiseOpCode.Unary, _ x: Tensor, p0: Float = 0, p1: Float = 0, _ op: String) throws -> Tensor {
        let source = try deviceBuffer(x, op)
        try activate()
        let dt = try floatCode(x.dtype, op)
        let out = try empty(x.shape, dtype: x.dtype)
        let n = x.count
        guard n > 0 else { return out }
        if try StridedArgument(x).isLinear, let kernel = DenseSplit.kernelName("unary_dense", x.dtype) {
            let (o, i) = (try address(out), try address(x))
            let split = DenseSplit(count: n, operands: [(o, x.dtype.byteSize), (i, x.dtype.byteSize)])
            try launchDense(kernel, split, leading: [.pointer(o), .pointer(i)], trailing: [.int32(code.rawValue), .float(p0), .float(p1)])
            return out
        }
        let (grid, block) = elementwiseGrid(n)
        try launch(.elementwise, "td_unary", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(n)), .int32(code.rawValue), .float(p0), .float(p1),
        ])
        return out
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        try mapUnary(Self.unaryCode(op), x, "unary \(op)")
    }

    public func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor {
        try mapUnary(.affine, x, p0: scale, p1: shift, "affine")
    }

    /// The result's memory follows `a` when `a` is a permuted dense view of the result's shape
    /// (`Tensor.denseMemoryOrder`, e.g. an attention output): the op runs on both operands permuted
    /// into that memory order, which is row-major for `a`, so the dense kernels apply whenever `b`
    /// shares the layout (or is a repeated row in it), and the result is returned permuted back.
    /// Otherwise the result is row-major.
    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let ba = try deviceBuffer(a, "binary \(op)"), bb = try deviceBuffer(b, "binary \(op)")
        try activate()
        let aCode = try floatCode(a.dtype, "binary \(op)"), bCode = try floatCode(b.dtype, "binary \(op)")
        let shape = try Tensor.broadcastShape(a.shape, b.shape)
        if let order = Self.binaryMemoryOrder(a, shape) {
            let eb = try b.expanded(to: shape)
            return try binary(op, a.permuted(order), eb.permuted(order)).permuted(Tensor.inverse(order))
        }
        let ea = try a.expanded(to: shape), eb = try b.expanded(to: shape)
        let out = try empty(shape, dtype: a.dtype)
        let n = out.count
        guard n > 0 else { return out }
        let opCode = Self.binaryCode(op).rawValue
        let (sa, sb) = (try StridedArgument(ea), try StridedArgument(eb))
        if sa.isLinear, sb.isLinear, let kernel = DenseSplit.kernelName("binary_dense", a.dtype, b.dtype) {
            let (o, pa, pb) = (try address(out), try address(ea), try address(eb))
            let split = DenseSplit(count: n, operands: [(o, a.dtype.byteSize), (pa, a.dtype.byteSize), (pb, b.dtype.byteSize)])
            try launchDense(kernel, split, leading: [.pointer(o), .pointer(pa), .pointer(pb)], trailing: [.int32(opCode)])
            return out
        }
        // A dense operand and one repeated row (the DiT's biases and modulations); for add and mul
        // the row may come first: the dense operand is then the kernel's first, the result still
        // takes a's dtype. Not for maximum/minimum, whose `a > b ? a : b` picks between +0 and −0
        // by operand order.
        let commutative = op == .add || op == .mul
        let rows: (dense: Tensor, row: Tensor, cols: Int)? =
            if let cols = Self.repeatedRow(eb), sa.isLinear { (ea, eb, cols) }
            else if commutative, let cols = Self.repeatedRow(ea), sb.isLinear { (eb, ea, cols) }
            else { nil }
        if let rows, let kernel = DenseSplit.kernelName("binary_rows_dense", a.dtype, rows.dense.dtype, rows.row.dtype) {
            let (o, pd, pr) = (try address(out), try address(rows.dense), try address(rows.row))
            let split = DenseSplit(count: n, operands: [(o, a.dtype.byteSize), (pd, rows.dense.dtype.byteSize)])
            let inGroups = split.rowInGroups(cols: rows.cols, rowAddress: pr)
            try launchDense(kernel, split, leading: [.pointer(o), .pointer(pd), .pointer(pr), .int64(Int64(rows.cols)), .int32(inGroups ? 1 : 0)],
                            trailing: [.int32(opCode)])
            return out
        }
        // Strided operands whose rows are contiguous and aligned (the SLA sum): groups of 8 in rows.
        if let cols = shape.last, cols % DenseSplit.group == 0, readsInGroups(ea, buffer: ba), readsInGroups(eb, buffer: bb),
           let kernel = DenseSplit.kernelName("binary_groups", a.dtype, b.dtype) {
            try launch(.elementwise, kernel, grid: DenseSplit.grid(work: n / DenseSplit.group, multiprocessors: multiprocessorCount),
                       block: DenseSplit.blockSize, [
                           .pointer(try address(out)), .pointer(ba.address), .strided(sa), .pointer(bb.address), .strided(sb),
                           .int64(Int64(n)), .int32(opCode),
                       ])
            return out
        }
        let (grid, block) = elementwiseGrid(n)
        try launch(.elementwise, "td_binary", grid: grid, block: block, [
            .pointer(try address(out)), .int32(aCode),
            .pointer(ba.address), .int32(aCode), .strided(sa),
            .pointer(bb.address), .int32(bCode), .strided(sb),
            .int64(Int64(n)), .int32(opCode),
        ])
        return out
    }

    /// Whether td_binary_groups can read `t` (a view broadcast to the output shape, whose last dim
    /// is a multiple of 8) in groups of 8: its last dim is contiguous and every row starts 16-byte
    /// aligned (buffer address, offset and the other strides multiples of 8 elements). `buffer` is t's.
    func readsInGroups(_ t: Tensor, buffer: CUDABuffer) -> Bool {
        guard t.strides.last == 1 else { return false }
        return buffer.address % 16 == 0 && t.offset % DenseSplit.group == 0
            && t.strides.dropLast().allSatisfy { $0 % DenseSplit.group == 0 }
    }

    /// The memory order `binary` computes in: `a`'s when `a` is a permuted dense view not broadcast
    /// to `shape` (then `a.permuted(order)` is row-major and the recursive call takes the plain path).
    static func binaryMemoryOrder(_ a: Tensor, _ shape: [Int]) -> [Int]? {
        guard a.shape == shape else { return nil }
        return a.denseMemoryOrder
    }

    /// For a broadcast view: the length of the dense row it repeats (stride 0 on every leading dim,
    /// row-major contiguous over the trailing dims; 1 for a broadcast scalar), or nil when it is not
    /// of that form or repeats nothing (fully dense).
    static func repeatedRow(_ t: Tensor) -> Int? {
        var cols = 1, i = t.rank - 1
        while i >= 0 && (t.shape[i] == 1 || t.strides[i] == cols) {
            cols *= t.shape[i]
            i -= 1
        }
        guard i >= 0 else { return nil }
        while i >= 0 {
            if t.shape[i] != 1 && t.strides[i] != 0 { return nil }
            i -= 1
        }
        return cols
    }

    // MARK: Normalisation

    public func softmax(_ x: Tensor) throws -> Tensor {
        _ = try deviceBuffer(x, "softmax")
        try activate()
        guard x.rank >= 1 else { throw TensorError.invalidArgument("softmax of a scalar") }
        let dt = try floatCode(x.dtype, "softmax")
        let src = x.isContiguous ? x : try contiguous(x)
        let out = try empty(x.shape, dtype: x.dtype)
        let cols = x.shape[x.rank - 1], rows = cols == 0 ? 0 : x.count / cols
        guard rows > 0 else { return out }
        if cols <= 1024 {
            // One warp per row: a block per row would spend its time in barriers on short rows.
            let grid = min((rows + 7) / 8, multiprocessorCount * 32)
            try launch(.softmax, "td_softmax_warp", grid: grid, block: 256, [
                .pointer(try address(out)), .pointer(try address(src)), .int32(dt), .int64(Int64(rows)), .int64(Int64(cols)),
            ])
            return out
        }
        let block = min(512, max(32, (cols + 31) / 32 * 32))
        let grid = min(rows, multiprocessorCount * 64)
        try launch(.softmax, "td_softmax", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(try address(src)), .int32(dt), .int64(Int64(rows)), .int64(Int64(cols)),
        ])
        return out
    }
}
