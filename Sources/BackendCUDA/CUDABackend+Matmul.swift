import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// cuBLASLt handle, workspace and the algorithms chosen per problem shape.
final class GemmState: @unchecked Sendable {
    let lock = Lock()
    var handle: cublasLtHandle_t?
    var workspace: CUDABuffer?
    var algorithms: [GemmKey: cublasLtMatmulAlgo_t] = [:]
    static let workspaceBytes = 32 << 20

    /// The handle and workspace, made on first use. The caller holds `lock`.
    func resources(_ lt: CublasLtLibrary, allocator: CUDAAllocator, synchronize: () throws -> Void) throws
        -> (handle: cublasLtHandle_t?, workspace: CUDABuffer) {
        if handle == nil {
            var h: cublasLtHandle_t?
            try lt.check(lt.api.cublasLtCreate(&h), "cublasLtCreate")
            handle = h
        }
        if workspace == nil { workspace = try allocator.allocate(Self.workspaceBytes, synchronize: synchronize) }
        return (handle, workspace!)
    }

    /// The alignment (bytes, at most 256) the heuristic is told for a device address; it assumes
    /// 256-byte aligned operands otherwise.
    static func alignment(_ address: UInt64) -> UInt32 { UInt32(min(256, address & (~address &+ 1))) }

    /// cuBLASLt's first choice for a described product within the workspace, told the pointer
    /// alignments of cuBLAS operands A, B and D (C = D); nil when it offers none.
    static func heuristic(_ lt: CublasLtLibrary, handle: cublasLtHandle_t?, desc: cublasLtMatmulDesc_t?,
                          a: cublasLtMatrixLayout_t?, b: cublasLtMatrixLayout_t?, d: cublasLtMatrixLayout_t?,
                          alignments: [UInt32]) throws -> cublasLtMatmulAlgo_t? {
        let api = lt.api
        var pref: cublasLtMatmulPreference_t?
        try lt.check(api.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate")
        defer { _ = api.cublasLtMatmulPreferenceDestroy(pref) }
        var limit = UInt64(workspaceBytes)
        try lt.check(api.cublasLtMatmulPreferenceSetAttribute(pref, Int32(CCUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), &limit, 8),
                     "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)")
        let attributes = [CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                          CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CCUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES]
        for (attribute, value) in zip(attributes, alignments + [alignments[2]]) {
            var v = value
            try lt.check(api.cublasLtMatmulPreferenceSetAttribute(pref, Int32(attribute), &v, 4),
                         "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)")
        }
        var result = cublasLtMatmulHeuristicResult_t()
        var found: Int32 = 0
        try lt.check(api.cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, pref, 1, &result, &found),
                     "cublasLtMatmulAlgoGetHeuristic")
        return found > 0 ? result.algo : nil
    }

    func destroy(lt: CublasLtLibrary?) {
        lock.withLock {
            if let handle, let lt { _ = lt.api.cublasLtDestroy(handle) }
            handle = nil
            workspace = nil
            algorithms.removeAll()
        }
    }
}

struct GemmKey: Hashable {
    var m, n, k, batch: Int
    var transposeB: Bool
    var inputType: DType
    var outputType: DType
    var bias: Bool
    /// GELU(tanh) in the epilogue.
    var gelu: Bool
    /// Pointer alignments (bytes, at most 256) of cuBLAS operands A (our b), B (our a) and D.
    var alignments: [UInt32]
}

extension CUDABackend {
    static func cudaDataType(_ dtype: DType) -> Int32? {
        switch dtype {
        case .f32: Int32(CCUDA_R_32F)
        case .bf16: Int32(CCUDA_R_16BF)
        case .f16: Int32(CCUDA_R_16F)
        default: nil
        }
    }

    /// A dense, 16-byte aligned copy of `t` in `dtype` (t itself when it already is one).
    private func gemmOperand(_ t: Tensor, _ dtype: DType) throws -> Tensor {
        let aligned = (try address(t)) % 16 == 0
        if t.dtype == dtype && t.isContiguous && aligned { return t }
        return try contiguous(t, dtype: dtype)
    }

    /// C = A·B (+ bias) with cuBLASLt: fp32 compute (CUBLAS_COMPUTE_32F, never TF32) and fp32
    /// scaling. Row-major C[M, N] = A[M, K]·B is computed as column-major Cᵀ = Bᵀ·Aᵀ.
    /// A shared B folds a's batch dims into M; a batched B uses strided batches.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        try gemm(a, b, transposeB: transposeB, bias: bias, outputType: outputType, gelu: false)
    }

    /// `matmul` with GELU(tanh) in cuBLASLt's epilogue (CUBLASLT_EPILOGUE_GELU[_BIAS], the tanh form)
    /// where the product is written directly in its 16-bit input type; otherwise the composition.
    public func matmulGELU(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        guard a.dtype == b.dtype, a.dtype == outputType, outputType == .bf16 || outputType == .f16 else {
            return try composedMatmulGELU(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
        do {
            return try gemm(a, b, transposeB: transposeB, bias: bias, outputType: outputType, gelu: true)
        } catch TensorError.unsupported {
            // No cuBLASLt algorithm with this epilogue for the shape: the plain GEMM then GELU.
            return try composedMatmulGELU(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
    }

    /// C = A·B (+ bias), GELU(tanh) applied in the epilogue when `gelu` (the caller checked that the
    /// product is written directly: output type = input type, no conversion after).
    private func gemm(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType, gelu: Bool) throws -> Tensor {
        _ = try deviceBuffer(a, "matmul")
        _ = try deviceBuffer(b, "matmul")
        try activate()
        guard a.rank >= 2, b.rank >= 2 else { throw TensorError.invalidArgument("matmul needs matrices, got \(a.shape) · \(b.shape)") }
        guard Self.cudaDataType(a.dtype) != nil, Self.cudaDataType(b.dtype) != nil else {
            throw TensorError.unsupported("matmul of \(a.dtype) · \(b.dtype) on CUDA (f32, bf16, f16)")
        }
        guard Self.cudaDataType(outputType) != nil else {
            throw TensorError.unsupported("matmul output \(outputType) on CUDA (f32, bf16, f16)")
        }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let bk = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        let batchShape = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        guard bk == k, bBatch.isEmpty || bBatch == batchShape else {
            throw TensorError.shapeMismatch("matmul \(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : ""): inner sizes \(k) and \(bk)")
        }
        if let bias {
            _ = try deviceBuffer(bias, "matmul bias")
            guard bias.count == n else { throw TensorError.shapeMismatch("matmul bias \(bias.shape) for \(n) output columns") }
        }
        let out = try empty(batchShape + [m, n], dtype: outputType)
        guard out.count > 0 else { return out }
        if k == 0 {
            // An empty sum: zeros, plus the bias when there is one.
            try driver.check(driver.api.cuMemsetD8Async(try address(out), 0, out.byteCount, stream), "cuMemsetD8Async")
            let sum = try bias.map { try binary(.add, out, try $0.reshapedOrCopied(to: [n], self)) } ?? out
            return gelu ? try unary(.geluTanh, sum) : sum
        }

        let inputType: DType = a.dtype == b.dtype ? a.dtype : .f32
        // cuBLASLt's fp32-compute GEMMs write D in the input type or in f32; other output
        // types are converted from an f32 result.
        let direct = outputType == .f32 || outputType == inputType
        let gemmOut = direct ? out : try empty(out.shape, dtype: .f32)
        let outCode = Self.cudaDataType(gemmOut.dtype)!
        let ad = try gemmOperand(a, inputType), bd = try gemmOperand(b, inputType)
        let biasDense = try bias.map { try gemmOperand(try $0.reshapedOrCopied(to: [n], self), gemmOut.dtype) }
        let batches = batchShape.reduce(1, *)
        let shared = bBatch.isEmpty
        let rowsM = shared ? m * batches : m, batchCount = shared ? 1 : batches
        guard rowsM <= Int(Int32.max), n <= Int(Int32.max), k <= Int(Int32.max) else {
            throw TensorError.unsupported("matmul of \(rowsM)×\(k)·\(k)×\(n) exceeds cuBLASLt's 32-bit dimensions")
        }

        let lt = try CublasLtLibrary.shared.get()
        let api = lt.api
        let alignments = try [bd, ad, gemmOut].map { GemmState.alignment(try address($0)) }
        let key = GemmKey(m: rowsM, n: n, k: k, batch: batchCount, transposeB: transposeB,
                          inputType: inputType, outputType: gemmOut.dtype, bias: bias != nil, gelu: gelu, alignments: alignments)
        try gemm.lock.withLock {
            let (handle, workspace) = try gemm.resources(lt, allocator: allocator) { try self.synchronize() }

            var desc: cublasLtMatmulDesc_t?
            try lt.check(api.cublasLtMatmulDescCreate(&desc, Int32(CCUBLAS_COMPUTE_32F), Int32(CCUDA_R_32F)), "cublasLtMatmulDescCreate")
            defer { _ = api.cublasLtMatmulDescDestroy(desc) }
            func setDesc<T: BitwiseCopyable>(_ attribute: Int32, _ value: T, _ what: String) throws {
                try withUnsafeBytes(of: value) { bytes in
                    try lt.check(api.cublasLtMatmulDescSetAttribute(desc, attribute, bytes.baseAddress, bytes.count),
                                 "cublasLtMatmulDescSetAttribute(\(what))")
                }
            }
            // cuBLAS operand A is our B, operand B is our A.
            try setDesc(Int32(CCUBLASLT_MATMUL_DESC_TRANSA), Int32(transposeB ? CCUBLAS_OP_T : CCUBLAS_OP_N), "TRANSA")
            try setDesc(Int32(CCUBLASLT_MATMUL_DESC_TRANSB), Int32(CCUBLAS_OP_N), "TRANSB")
            precondition(!gelu || direct, "a GELU epilogue needs the product written in its final type")
            let epilogue = switch (gelu, biasDense != nil) {
            case (true, true): CCUBLASLT_EPILOGUE_GELU_BIAS
            case (true, false): CCUBLASLT_EPILOGUE_GELU
            case (false, true): CCUBLASLT_EPILOGUE_BIAS
            case (false, false): CCUBLASLT_EPILOGUE_DEFAULT
            }
            if epilogue != CCUBLASLT_EPILOGUE_DEFAULT {
                try setDesc(Int32(CCUBLASLT_MATMUL_DESC_EPILOGUE), UInt32(epilogue), "EPILOGUE")
            }
            if let biasDense {
                try setDesc(Int32(CCUBLASLT_MATMUL_DESC_BIAS_POINTER), try address(biasDense), "BIAS_POINTER")
                try setDesc(Int32(CCUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE), outCode, "BIAS_DATA_TYPE")
            }

            let inCode = Self.cudaDataType(inputType)!
            func layout(_ type: Int32, rows: Int, cols: Int, ld: Int, batchStride: Int) throws -> cublasLtMatrixLayout_t? {
                var l: cublasLtMatrixLayout_t?
                try lt.check(api.cublasLtMatrixLayoutCreate(&l, type, UInt64(rows), UInt64(cols), Int64(ld)), "cublasLtMatrixLayoutCreate")
                if batchCount > 1 {
                    var count = Int32(batchCount), stride = Int64(batchStride)
                    try lt.check(api.cublasLtMatrixLayoutSetAttribute(l, Int32(CCUBLASLT_MATRIX_LAYOUT_BATCH_COUNT), &count, 4),
                                 "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)")
                    try lt.check(api.cublasLtMatrixLayoutSetAttribute(l, Int32(CCUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET), &stride, 8),
                                 "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)")
                }
                return l
            }
            // Column-major views of row-major data: B [K, N] is N×K (ld N); Bᵀ stored [N, K] is K×N (ld K).
            let layoutA = transposeB ? try layout(inCode, rows: k, cols: n, ld: k, batchStride: n * k)
                                     : try layout(inCode, rows: n, cols: k, ld: n, batchStride: n * k)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutA) }
            let layoutB = try layout(inCode, rows: k, cols: rowsM, ld: k, batchStride: rowsM * k)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutB) }
            let layoutD = try layout(outCode, rows: n, cols: rowsM, ld: n, batchStride: rowsM * n)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutD) }

            var algorithm: cublasLtMatmulAlgo_t
            if let cached = gemm.algorithms[key] {
                algorithm = cached
            } else {
                guard let chosen = try GemmState.heuristic(lt, handle: handle, desc: desc, a: layoutA, b: layoutB, d: layoutD,
                                                           alignments: alignments) else {
                    throw TensorError.unsupported("cuBLASLt has no algorithm for \(inputType) \(rowsM)×\(k)·\(k)×\(n) → \(gemmOut.dtype)\(bias != nil ? " with bias" : "")\(gelu ? " and GELU" : "")")
                }
                algorithm = chosen
                gemm.algorithms[key] = algorithm
            }

            var alpha: Float = 1, beta: Float = 0
            let dPointer = try address(gemmOut)
            let status = api.cublasLtMatmul(handle, desc, &alpha,
                                            UnsafeRawPointer(bitPattern: UInt(try address(bd))), layoutA,
                                            UnsafeRawPointer(bitPattern: UInt(try address(ad))), layoutB, &beta,
                                            UnsafeRawPointer(bitPattern: UInt(dPointer)), layoutD,
                                            UnsafeMutableRawPointer(bitPattern: UInt(dPointer)), layoutD,
                                            &algorithm, UnsafeMutableRawPointer(bitPattern: UInt(workspace.address)),
                                            GemmState.workspaceBytes, stream)
            try lt.check(status, "cublasLtMatmul(\(inputType) \(rowsM)×\(k)·\(k)×\(n) → \(gemmOut.dtype))")
        }
        return direct ? out : try contiguous(gemmOut, dtype: outputType)
    }
}

extension CUDABackend: MatmulGELUBackend {}

extension Tensor {
    /// This tensor as shape `shape` (same element count): a view when contiguous, else a copy.
    func reshapedOrCopied(to shape: [Int], _ backend: CUDABackend) throws -> Tensor {
        if isContiguous { return try reshaped(shape) }
        return try backend.contiguous(self).reshaped(shape)
    }
}
