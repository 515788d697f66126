import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// How `CUDABackend` computes conv3d and conv2d.
public enum ConvolutionEngine: String, Sendable, CaseIterable {
    /// The default: bf16/f16 convolutions with a spatial or temporal extent run as an implicit GEMM
    /// on tensor cores: on Hopper (compute capability 9.0) with ≥ 192 output channels the wgmma
    /// kernel (`td_conv_wgmma_*`, Kernels/hopper_conv.cu), otherwise the mma.sync kernel
    /// (`td_conv_igemm_*`, Kernels/implicit_conv.cu, sm_80+); f32 or mixed operand types, 1×1×1
    /// kernels and older GPUs run im2col + cuBLASLt.
    case implicit
    /// As `implicit` but never the wgmma kernel: the mma.sync kernel on every sm_80+ GPU (so the
    /// op catalogue checks it on Hopper too).
    case implicitMMA = "implicit-mma"
    /// im2col + cuBLASLt for every convolution (the composition the implicit kernel is tested against).
    case im2col
    /// cuDNN 9 when libcudnn.so.9 loads (a shape cuDNN refuses — not supported, bad parameter, no
    /// algorithm within the workspace bound — and every shape without cuDNN run im2col). Opt-in
    /// only: on an H200 with cuDNN 9.14 its results failed the op catalogue (13 conv cases, NMSE
    /// 0.2–19, one unwritten output) and the VAE decode took 18 s, so it is not used by default
    /// (docs/cuda-backend.md).
    case cudnn
}

/// The convolution engine's state: the cuDNN library and handle when in use, one plan per
/// problem shape, the shapes cuDNN refused, and how many convolutions each engine ran.
final class ConvolutionState: @unchecked Sendable {
    let lock = Lock()
    /// nil: every convolution runs im2col (`reason` says why).
    let cudnn: CudnnLibrary?
    /// Why cuDNN is not used (nil when it is).
    let reason: String?
    var handle: cudnnHandle_t?
    var plans: [CudnnPlanKey: CudnnPlan] = [:]
    /// Shapes cuDNN refused, with its message; they run im2col without asking again.
    var refused: [CudnnPlanKey: String] = [:]
    var cudnnRuns = 0
    var implicitRuns = 0
    var im2colRuns = 0

    init(engine: ConvolutionEngine) {
        switch engine {
        case .implicit, .implicitMMA, .im2col:
            (cudnn, reason) = (nil, "cuDNN not used: the backend was opened with the \(engine.rawValue) convolution engine")
        case .cudnn:
            switch CudnnLibrary.shared {
            case .success(let library): (cudnn, reason) = (library, nil)
            case .failure(let error): (cudnn, reason) = (nil, "cuDNN not found: \(error.message)")
            }
        }
    }

    func destroy() {
        lock.withLock {
            guard let api = cudnn?.api else { return }
            for plan in plans.values { plan.destroy(api) }
            plans.removeAll()
            if let handle { _ = api.cudnnDestroy(handle) }
            handle = nil
        }
    }
}

/// What a cuDNN plan depends on: the operand type, the math mode and the sizes (operands are
/// dense NCDHW, so the sizes fix the strides).
struct CudnnPlanKey: Hashable {
    var dataType: DType
    var math: Int32
    var input: [Int]
    var filter: [Int]
    var pads: [Int]
    var strides: [Int]
}

/// Descriptors and the chosen algorithm for one problem shape.
final class CudnnPlan {
    let x: cudnnTensorDescriptor_t?
    let w: cudnnFilterDescriptor_t?
    let y: cudnnTensorDescriptor_t?
    let conv: cudnnConvolutionDescriptor_t?
    let algorithm: Int32
    let workspaceBytes: Int

    init(x: cudnnTensorDescriptor_t?, w: cudnnFilterDescriptor_t?, y: cudnnTensorDescriptor_t?,
         conv: cudnnConvolutionDescriptor_t?, algorithm: Int32, workspaceBytes: Int) {
        (self.x, self.w, self.y, self.conv, self.algorithm, self.workspaceBytes) = (x, w, y, conv, algorithm, workspaceBytes)
    }

    func destroy(_ api: CCUDACudnnAPI) {
        _ = api.cudnnDestroyTensorDescriptor(x)
        _ = api.cudnnDestroyFilterDescriptor(w)
        _ = api.cudnnDestroyTensorDescriptor(y)
        _ = api.cudnnDestroyConvolutionDescriptor(conv)
    }
}

extension TensorError {
    /// The message without the case name.
    var message: String {
        switch self {
        case .unsupported(let m), .outOfMemory(let m), .deviceError(let m): m
        default: "\(self)"
        }
    }
}

extension CUDABackend {
    /// The cuDNN version this process loads ("9.28.1"), or nil when none loads (`cudnnUnavailableReason`).
    /// Loading needs no GPU: the library is opened and its entry points resolved, nothing more.
    public static var cudnnVersion: String? { try? CudnnLibrary.shared.get().versionString }

    /// Why cuDNN does not load here, or nil when it does.
    public static var cudnnUnavailableReason: String? {
        if case .failure(let error) = CudnnLibrary.shared { return error.message }
        return nil
    }

    /// The engine that runs convolutions, for logs: "cuDNN 9.28.1 (path)" or
    /// "im2col + cuBLASLt (cuDNN not found: reason)".
    public var convolutionSummary: String {
        if let cudnn = convolution.cudnn { return "cuDNN \(cudnn.versionString) (\(cudnn.path))" }
        if convolutionEngine == .implicit, computeCapability.major >= 8 {
            return "implicit GEMM on tensor cores for bf16/f16, im2col + cuBLASLt for the rest"
        }
        return "im2col + cuBLASLt (\(convolution.reason ?? "cuDNN not used"))"
    }

    /// True when convolutions go to cuDNN (shapes it refuses still run im2col).
    public var usesCudnn: Bool { convolution.cudnn != nil }

    /// Why cuDNN refused the shapes it refused so far (distinct messages), for reports.
    public var cudnnRefusals: [String] {
        convolution.lock.withLock { Array(Set(convolution.refused.values)).sorted() }
    }

    /// Convolutions run so far by each engine (a shape cuDNN refused counts as im2col).
    public var convolutionRuns: (cudnn: Int, implicit: Int, im2col: Int) {
        convolution.lock.withLock { (convolution.cudnnRuns, convolution.implicitRuns, convolution.im2colRuns) }
    }

    /// conv3d through cuDNN's legacy forward convolution, or nil when cuDNN is not in use or
    /// refuses this problem (the caller then runs im2col). Geometry and bias are checked by the caller.
    ///
    /// Numerics: x, weight and result of one type T run in T with f32 accumulation (tensor-op
    /// math for bf16/f16; f32 uses FMA math, never TF32, for parity with the CPU). Other
    /// combinations (the VAE's bf16 operands with an f32 result, mixed operand types) widen
    /// both operands to f32 and run an f32 convolution into f32: with bf16/f16 operands TF32
    /// tensor-op math is allowed because their values are exact in TF32 (≤ 10 mantissa bits),
    /// so the products are exact as in a bf16 GEMM with f32 accumulation; with an f32 operand
    /// FMA math. The bias is added afterwards by `td_conv_epilogue`: in place when cuDNN wrote
    /// the output type (for bf16/f16 a second rounding, as PyTorch's cuDNN path adds the bias
    /// to the rounded convolution), or from the f32 result with one rounding otherwise.
    func cudnnConv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry, stride: [Int],
                     padding: [Padding], outputType: DType) throws -> Tensor? {
        guard let library = convolution.cudnn else { return nil }
        let api = library.api
        let same = x.dtype == weight.dtype && outputType == x.dtype
        let dataType: DType = same ? x.dtype : .f32
        guard let cudnnType = Self.cudnnDataType(dataType) else { return nil }
        let exactInTF32 = [DType.bf16, .f16].contains(x.dtype) && [DType.bf16, .f16].contains(weight.dtype)
        let math = dataType != .f32 || exactInTF32 ? Int32(CCUDNN_TENSOR_OP_MATH) : Int32(CCUDNN_FMA_MATH)

        // cuDNN pads symmetrically: the common part goes to cuDNN, the rest (the causal front
        // frames) is materialized with zeros. The output positions stay the same: with total
        // padding and front padding unchanged, output i still starts at padded position i·stride.
        let symmetric = padding.map { min($0.before, $0.after) }
        let extra = zip(padding, symmetric).map { Padding($0.before - $1, $0.after - $1) }
        var padded = x.shape
        for d in 0..<3 { padded[2 + d] += extra[d].before + extra[d].after }
        let outShape = [g.batch, g.outChannels] + g.output
        let key = CudnnPlanKey(dataType: dataType, math: math, input: padded, filter: weight.shape,
                               pads: symmetric, strides: stride)
        // The plan first (it needs no data): a refused shape costs no copies.
        guard let plan = try convolution.lock.withLock({ () throws -> CudnnPlan? in
            if convolution.refused[key] != nil { return nil }
            if let cached = convolution.plans[key] { return cached }
            do {
                let made = try makeCudnnPlan(library, key: key, cudnnType: cudnnType, output: outShape)
                convolution.plans[key] = made
                return made
            } catch TensorError.unsupported(let why) {
                convolution.refused[key] = why
                return nil
            }
        }) else { return nil }

        // Dense operands of the plan's type on 16-byte boundaries (fresh buffers are).
        func dense(_ t: Tensor) throws -> Tensor {
            let aligned = try address(t) % 16 == 0
            return t.isContiguous && t.dtype == dataType && aligned ? t : try contiguous(t, dtype: dataType)
        }
        let input: Tensor, filter: Tensor, out: Tensor, y: Tensor, workspace: Tensor?
        let separate = dataType != outputType   // cuDNN writes f32, the epilogue rounds to the output type
        do {
            input = try dense(extra.contains(where: { $0 != .none }) ? try pad(x, extra, value: 0) : x)
            filter = try dense(weight)
            out = try empty(outShape, dtype: outputType)
            y = separate ? try empty(outShape, dtype: .f32) : out
            workspace = plan.workspaceBytes > 0 ? try empty([plan.workspaceBytes], dtype: .u8) : nil
        } catch TensorError.outOfMemory {
            // The dense/widened copies did not fit (--max_vram): im2col works in bounded chunks.
            return nil
        }
        let (xAddress, wAddress, yAddress) = (try address(input), try address(filter), try address(y))
        let workspaceAddress = try workspace.map { try address($0) } ?? 0
        let ran = try convolution.lock.withLock { () throws -> Bool in
            var alpha: Float = 1, beta: Float = 0   // float scalars for every data type but double
            let status = api.cudnnConvolutionForward(
                convolution.handle, &alpha, plan.x, UnsafeRawPointer(bitPattern: UInt(xAddress)),
                plan.w, UnsafeRawPointer(bitPattern: UInt(wAddress)), plan.conv, plan.algorithm,
                UnsafeMutableRawPointer(bitPattern: UInt(workspaceAddress)), plan.workspaceBytes, &beta,
                plan.y, UnsafeMutableRawPointer(bitPattern: UInt(yAddress)))
            do {
                try library.check(status, "cudnnConvolutionForward(\(dataType) \(key.input) * \(key.filter))")
            } catch TensorError.unsupported(let why) {
                // Refused at launch (nothing ran): remember the shape, let im2col compute it.
                convolution.refused[key] = why
                return false
            }
            convolution.cudnnRuns += 1
            return true
        }
        guard ran else { return nil }

        let biasF32 = try bias.map { $0.dtype == .f32 && $0.isContiguous ? $0 : try contiguous($0, dtype: .f32) }
        let biasAddress = try biasF32.map { try address($0) } ?? 0
        let rows = g.batch * g.outChannels, plane = g.plane
        if separate {
            try convEpilogue(out: try address(out), outCode: try floatCode(outputType, "conv3d"), outLD: plane,
                             source: yAddress, sourceLD: plane, bias: biasAddress, channels: g.outChannels, rows: rows, cols: plane)
        } else if biasF32 != nil {
            try convEpilogue(out: yAddress, outCode: try floatCode(outputType, "conv3d"), outLD: plane,
                             source: yAddress, sourceLD: plane, bias: biasAddress, channels: g.outChannels, rows: rows, cols: plane)
        }
        return out
    }

    /// Descriptors for `key` and cuDNN's first heuristic choice that succeeds within the
    /// convolution workspace bound. The caller holds `convolution.lock`. Throws `.unsupported`
    /// when cuDNN refuses the problem.
    private func makeCudnnPlan(_ library: CudnnLibrary, key: CudnnPlanKey, cudnnType: Int32, output: [Int]) throws -> CudnnPlan {
        let api = library.api
        if convolution.handle == nil {
            // A handle cuDNN cannot make (an incompatible driver, …) refuses the shape like any
            // other error here: im2col runs, and the next new shape tries again.
            var h: cudnnHandle_t?
            do {
                try library.check(api.cudnnCreate(&h), "cudnnCreate")
                try library.check(api.cudnnSetStream(h, stream), "cudnnSetStream")
            } catch {
                if let h { _ = api.cudnnDestroy(h) }
                throw TensorError.unsupported((error as? TensorError)?.message ?? "\(error)")
            }
            convolution.handle = h
        }
        guard (key.input + key.filter + output).allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw TensorError.unsupported("conv3d sizes \(key.input) * \(key.filter) exceed cuDNN's 32-bit dimensions")
        }
        func packedStrides(_ dims: [Int]) -> [Int32] {
            var strides = [Int32](repeating: 1, count: dims.count), s = 1
            for d in dims.indices.reversed() { strides[d] = Int32(truncatingIfNeeded: s); s *= max(dims[d], 1) }
            return strides
        }
        var x: cudnnTensorDescriptor_t?, y: cudnnTensorDescriptor_t?
        var w: cudnnFilterDescriptor_t?, conv: cudnnConvolutionDescriptor_t?
        try library.check(api.cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor")
        try library.check(api.cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor")
        try library.check(api.cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor")
        try library.check(api.cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor")
        var plan = CudnnPlan(x: x, w: w, y: y, conv: conv, algorithm: 0, workspaceBytes: 0)
        do {
            let xDims = key.input.map { Int32($0) }, wDims = key.filter.map { Int32($0) }, yDims = output.map { Int32($0) }
            try library.check(api.cudnnSetTensorNdDescriptor(x, cudnnType, 5, xDims, packedStrides(key.input)), "cudnnSetTensorNdDescriptor(x \(key.input))")
            try library.check(api.cudnnSetFilterNdDescriptor(w, cudnnType, Int32(CCUDNN_TENSOR_NCHW), 5, wDims), "cudnnSetFilterNdDescriptor(\(key.filter))")
            try library.check(api.cudnnSetConvolutionNdDescriptor(conv, 3, key.pads.map { Int32($0) }, key.strides.map { Int32($0) },
                                                                  [1, 1, 1], Int32(CCUDNN_CROSS_CORRELATION), Int32(CCUDNN_DATA_FLOAT)),
                              "cudnnSetConvolutionNdDescriptor")
            try library.check(api.cudnnSetConvolutionMathType(conv, key.math), "cudnnSetConvolutionMathType")
            var computed = [Int32](repeating: 0, count: 5)
            try library.check(api.cudnnGetConvolutionNdForwardOutputDim(conv, x, w, 5, &computed), "cudnnGetConvolutionNdForwardOutputDim")
            guard computed == yDims else {
                throw TensorError.deviceError("cuDNN computes conv3d output \(computed) for \(key.input) * \(key.filter), expected \(output)")
            }
            try library.check(api.cudnnSetTensorNdDescriptor(y, cudnnType, 5, yDims, packedStrides(output)), "cudnnSetTensorNdDescriptor(y \(output))")

            var results = [cudnnConvolutionFwdAlgoPerf_t](repeating: cudnnConvolutionFwdAlgoPerf_t(), count: Int(CCUDNN_CONVOLUTION_FWD_ALGO_COUNT))
            var returned: Int32 = 0
            try library.check(api.cudnnGetConvolutionForwardAlgorithm_v7(convolution.handle, x, w, conv, y, Int32(results.count), &returned, &results),
                              "cudnnGetConvolutionForwardAlgorithm_v7")
            // Ranked fastest first; the first that works within the bound. Only the GEMM family
            // (implicit, implicit precomputed, explicit): FFT and Winograd transform the operands
            // (and under TF32 would round the transformed values), which breaks the exactness the
            // widened path relies on and the f32 parity. A tensor-op request may still run an
            // FMA kernel, never the reverse: FMA math stays FMA.
            let gemmFamily: Set<Int32> = [Int32(CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM),
                                          Int32(CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM), Int32(CCUDNN_CONVOLUTION_FWD_ALGO_GEMM)]
            guard let best = results.prefix(Int(returned)).first(where: {
                $0.status == 0 && gemmFamily.contains($0.algo) && $0.memory <= Self.convolutionWorkspaceBytes
                    && (key.math != Int32(CCUDNN_FMA_MATH) || $0.mathType != Int32(CCUDNN_TENSOR_OP_MATH))
            }) else {
                throw TensorError.unsupported("cuDNN offers no GEMM-family algorithm for \(key.dataType) \(key.input) * \(key.filter) within \(Self.convolutionWorkspaceBytes >> 20) MiB of workspace")
            }
            var bytes = 0
            try library.check(api.cudnnGetConvolutionForwardWorkspaceSize(convolution.handle, x, w, conv, y, best.algo, &bytes),
                              "cudnnGetConvolutionForwardWorkspaceSize")
            plan = CudnnPlan(x: x, w: w, y: y, conv: conv, algorithm: best.algo, workspaceBytes: bytes)
        } catch {
            plan.destroy(api)
            throw error
        }
        return plan
    }

    static func cudnnDataType(_ dtype: DType) -> Int32? {
        switch dtype {
        case .f32: Int32(CCUDNN_DATA_FLOAT)
        case .bf16: Int32(CCUDNN_DATA_BFLOAT16)
        case .f16: Int32(CCUDNN_DATA_HALF)
        default: nil
        }
    }
}
