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
    /// The default: cuDNN 9 (loaded at run time, like cuBLASLt) for bf16/f16 convolutions with equal
    /// operand types, on channels-last operands (`cudnnConv3d`); where cuDNN is missing or refuses
    /// a shape, the `implicit` engine's kernels.
    case cudnn
    /// Our own kernels only: bf16/f16 convolutions with a spatial or temporal extent run as an
    /// implicit GEMM on tensor cores: on Hopper (compute capability 9.0) with ≥ 192 output channels
    /// the wgmma kernel (`td_conv_wgmma_*`, Kernels/hopper_conv.cu), otherwise the mma.sync kernel
    /// (`td_conv_igemm_*`, Kernels/implicit_conv.cu, sm_80+); f32 or mixed operand types, 1×1×1
    /// kernels and older GPUs run im2col + cuBLASLt.
    case implicit
    /// As `implicit` but never the wgmma kernel: the mma.sync kernel on every sm_80+ GPU (so the
    /// op catalogue checks it on Hopper too).
    case implicitMMA = "implicit-mma"
    /// im2col + cuBLASLt for every convolution (the composition the other engines are tested against).
    case im2col

    /// The engine a backend opens with unless told otherwise.
    public static let standard: ConvolutionEngine = .cudnn
}

/// The convolution engine's state: the cuDNN library and handle when in use, one plan per
/// problem shape, the shapes cuDNN refused, and how many convolutions each engine ran.
final class ConvolutionState: @unchecked Sendable {
    let lock = Lock()
    /// nil: no convolution runs on cuDNN (`reason` says why).
    let cudnn: CudnnLibrary?
    /// Why cuDNN is not used (nil when it is).
    let reason: String?
    var handle: cudnnHandle_t?
    var plans: [CudnnPlanKey: CudnnPlan] = [:]
    /// Shapes cuDNN refused, with its message; they run on our kernels without asking again.
    var refused: [CudnnPlanKey: String] = [:]
    var cudnnRuns = 0
    var implicitRuns = 0
    var im2colRuns = 0
    /// The plan each shape's timing chose, kept across processes (`CudnnChoiceCache`).
    let choices: CudnnChoiceCache

    init(engine: ConvolutionEngine, choiceCacheDirectory: String?) {
        choices = CudnnChoiceCache(directory: choiceCacheDirectory)
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

/// What a cuDNN plan depends on: the operand type and the sizes (operands are dense channels-last,
/// so the sizes fix the strides). `input` is [N, Cp, T, H, W] with Cp the padded channels and T
/// counting the zero frames of an asymmetric time padding; `pads` are cuDNN's symmetric paddings.
struct CudnnPlanKey: Hashable {
    var dataType: DType
    var input: [Int]
    var filter: [Int]
    var pads: [Int]
    var strides: [Int]
}

/// Descriptors and the chosen algorithm for one problem shape: the legacy API's heuristic choice,
/// and the graph API's candidate plans until the first run times them all (the legacy choice
/// included) and keeps the fastest.
final class CudnnPlan {
    let x: cudnnTensorDescriptor_t?
    let w: cudnnFilterDescriptor_t?
    let y: cudnnTensorDescriptor_t?
    let conv: cudnnConvolutionDescriptor_t?
    let algorithm: Int32
    let workspaceBytes: Int
    /// Graph-API plans not yet timed (emptied by the first run).
    var graphCandidates: [CudnnGraphPlan] = []
    /// The graph-API plan that beat the legacy algorithm, when one did.
    var graph: CudnnGraphPlan?
    /// Per candidate of the first run: engine (−1: the legacy algorithm) and its time in ms.
    var timings: [(engine: Int64, milliseconds: Float)] = []
    /// True when the choice came from `CudnnChoiceCache` (nothing was timed).
    var rememberedChoice = false

    init(x: cudnnTensorDescriptor_t?, w: cudnnFilterDescriptor_t?, y: cudnnTensorDescriptor_t?,
         conv: cudnnConvolutionDescriptor_t?, algorithm: Int32, workspaceBytes: Int) {
        (self.x, self.w, self.y, self.conv, self.algorithm, self.workspaceBytes) = (x, w, y, conv, algorithm, workspaceBytes)
    }

    /// Workspace the next run needs: every candidate's while untimed, else the chosen one's.
    var runWorkspaceBytes: Int {
        if let graph { return graph.workspaceBytes }
        return graphCandidates.reduce(workspaceBytes) { max($0, $1.workspaceBytes) }
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
        let ours = computeCapability.major >= 8 && convolutionEngine != .im2col
            ? "implicit GEMM on tensor cores for bf16/f16, im2col + cuBLASLt for the rest" : "im2col + cuBLASLt"
        if let cudnn = convolution.cudnn {
            return "cuDNN \(cudnn.versionString) (\(cudnn.path)) for bf16/f16; \(ours) where cuDNN does not apply"
        }
        if convolutionEngine == .cudnn { return "\(ours) (\(convolution.reason ?? "cuDNN not used"))" }
        return ours
    }

    /// True when convolutions go to cuDNN (shapes it refuses run on our kernels).
    public var usesCudnn: Bool { convolution.cudnn != nil }

    /// Why cuDNN refused the shapes it refused so far (distinct messages), for reports.
    public var cudnnRefusals: [String] {
        convolution.lock.withLock { Array(Set(convolution.refused.values)).sorted() }
    }

    /// Convolutions run so far by each engine (a shape cuDNN refused counts as im2col).
    public var convolutionRuns: (cudnn: Int, implicit: Int, im2col: Int) {
        convolution.lock.withLock { (convolution.cudnnRuns, convolution.implicitRuns, convolution.im2colRuns) }
    }

    /// conv3d of `parts` (concatenated along time) through cuDNN's forward convolution into `out`
    /// ([N, O, T', H', W'] dense, any float type); false when cuDNN is not in use or does not take
    /// the problem (the caller then runs our kernels). Geometry, bias and output were checked by the caller.
    ///
    /// Layout: the operands are the implicit kernels' copies (`channelsLastOperand`: x as
    /// [N, T, H, W, Cp], `packedConvolutionWeight`: w as [O, kt, kh, kw, Cp], channels zero padded to
    /// Cp), which are cuDNN's NDHWC tensor and filter; cuDNN writes y as NDHWC in the operand type
    /// and `td_conv_from_channels_last` transposes it into `out` adding the bias (and `residual`, a
    /// dense f32 tensor of out's shape, when not 0).
    ///
    /// Numerics: the fp32 sum of each output is rounded once to the operand type by cuDNN (the
    /// legacy API has no bf16 → f32 configuration: cuDNN 9.19 offers no algorithm for one), then
    /// the bias is added in f32 and the result rounded to the output type. For a bf16 result that
    /// is a second rounding, as in PyTorch's cuDNN path (bias added to the rounded convolution);
    /// for the VAE's f32 result it means the convolution's values carry bf16 precision, as the
    /// reference's bf16 autocast convolutions do. Padding: cuDNN pads symmetrically; an asymmetric
    /// time padding (the causal front frames) becomes zero frames of the copy, an asymmetric
    /// spatial one is refused.
    func cudnnConv3d(_ parts: [Tensor], weight: Tensor, bias: UInt64, geometry g: ConvolutionGeometry, stride: [Int],
                     padding: [Padding], residual: UInt64 = 0, out: Tensor) throws -> Bool {
        guard let library = convolution.cudnn else { return false }
        let dtype = parts[0].dtype
        guard dtype == weight.dtype, dtype == .bf16 || dtype == .f16, let cudnnType = Self.cudnnDataType(dtype),
              padding[1].before == padding[1].after, padding[2].before == padding[2].after,
              g.batch <= 65535, out.isContiguous else { return false }
        let api = library.api
        let cp = Self.paddedChannels(g.inChannels)
        let timePad = min(padding[0].before, padding[0].after)
        let (lead, trail) = (padding[0].before - timePad, padding[0].after - timePad)
        let input = [g.batch, cp, lead + g.input[0] + trail, g.input[1], g.input[2]]
        let outShape = [g.batch, g.outChannels] + g.output
        let key = CudnnPlanKey(dataType: dtype, input: input, filter: [g.outChannels, cp] + g.kernel,
                               pads: [timePad, padding[1].before, padding[2].before], strides: stride)
        let plane = g.plane
        guard (input + outShape).allSatisfy({ $0 <= Int(Int32.max) }), (plane + 31) / 32 <= Int(Int32.max) else { return false }
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
        }) else { return false }

        let xcl: Tensor, wp: Tensor, y: Tensor, workspace: Tensor?
        do {
            xcl = try channelsLastOperand(parts, geometry: g, channels: cp, leadingZeroFrames: lead, trailingZeroFrames: trail)
            wp = try packedConvolutionWeight(weight, geometry: g, channels: cp)
            y = try empty([g.batch] + g.output + [g.outChannels], dtype: dtype)
            let bytes = convolution.lock.withLock { plan.runWorkspaceBytes }
            workspace = bytes > 0 ? try empty([bytes], dtype: .u8) : nil
        } catch TensorError.outOfMemory {
            // The copies did not fit (--max_vram): the caller's paths need less.
            return false
        }
        let (xAddress, wAddress, yAddress) = (try address(xcl), try address(wp), try address(y))
        let workspaceAddress = try workspace.map { try address($0) } ?? 0
        let ran = try convolution.lock.withLock { () throws -> Bool in
            if !plan.graphCandidates.isEmpty {
                try chooseCudnnEngine(library, plan: plan, key: key, x: xAddress, w: wAddress, y: yAddress, workspace: workspaceAddress)
            }
            if let graph = plan.graph {
                try graph.execute(library, handle: convolution.handle, x: xAddress, w: wAddress, y: yAddress, workspace: workspaceAddress)
                convolution.cudnnRuns += 1
                return true
            }
            var alpha: Float = 1, beta: Float = 0   // float scalars for every data type but double
            let status = api.cudnnConvolutionForward(
                convolution.handle, &alpha, plan.x, UnsafeRawPointer(bitPattern: UInt(xAddress)),
                plan.w, UnsafeRawPointer(bitPattern: UInt(wAddress)), plan.conv, plan.algorithm,
                UnsafeMutableRawPointer(bitPattern: UInt(workspaceAddress)), plan.workspaceBytes, &beta,
                plan.y, UnsafeMutableRawPointer(bitPattern: UInt(yAddress)))
            do {
                try library.check(status, "cudnnConvolutionForward(\(dtype) \(key.input) * \(key.filter))")
            } catch TensorError.unsupported(let why) {
                // Refused at launch (nothing ran): remember the shape, let our kernels compute it.
                convolution.refused[key] = why
                return false
            }
            convolution.cudnnRuns += 1
            return true
        }
        guard ran else { return false }
        try launch(.conv, "td_conv_from_channels_last", grid: ((plane + 31) / 32, (g.outChannels + 31) / 32, g.batch), block: (32, 8, 1), [
            .pointer(try address(out)), .int32(try floatCode(out.dtype, "conv3d")), .pointer(yAddress), .int32(try floatCode(dtype, "conv3d")),
            .pointer(bias), .pointer(residual), .int32(Int32(g.outChannels)), .int64(Int64(plane)),
        ])
        return true
    }

    /// Descriptors for `key` (NDHWC tensors and filter) and cuDNN's first heuristic choice in the GEMM
    /// family that succeeds within the convolution workspace bound. The caller holds
    /// `convolution.lock`. Throws `.unsupported` when cuDNN refuses the problem.
    private func makeCudnnPlan(_ library: CudnnLibrary, key: CudnnPlanKey, cudnnType: Int32, output: [Int]) throws -> CudnnPlan {
        let api = library.api
        if convolution.handle == nil {
            // A handle cuDNN cannot make (an incompatible driver, …) refuses the shape like any
            // other error here: our kernels run, and the next new shape tries again.
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
        /// Strides of dims [N, C, T, H, W] stored as N, T, H, W, C.
        func channelsLastStrides(_ d: [Int]) -> [Int32] {
            let c = d[1], w = d[4] * c, h = d[3] * w, t = d[2] * h
            return [t, 1, h, w, c].map { Int32(truncatingIfNeeded: $0) }
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
            try library.check(api.cudnnSetTensorNdDescriptor(x, cudnnType, 5, xDims, channelsLastStrides(key.input)),
                              "cudnnSetTensorNdDescriptor(x \(key.input), NDHWC)")
            try library.check(api.cudnnSetFilterNdDescriptor(w, cudnnType, Int32(CCUDNN_TENSOR_NHWC), 5, wDims),
                              "cudnnSetFilterNdDescriptor(\(key.filter), NDHWC)")
            try library.check(api.cudnnSetConvolutionNdDescriptor(conv, 3, key.pads.map { Int32($0) }, key.strides.map { Int32($0) },
                                                                  [1, 1, 1], Int32(CCUDNN_CROSS_CORRELATION), Int32(CCUDNN_DATA_FLOAT)),
                              "cudnnSetConvolutionNdDescriptor")
            try library.check(api.cudnnSetConvolutionMathType(conv, Int32(CCUDNN_TENSOR_OP_MATH)), "cudnnSetConvolutionMathType")
            var computed = [Int32](repeating: 0, count: 5)
            try library.check(api.cudnnGetConvolutionNdForwardOutputDim(conv, x, w, 5, &computed), "cudnnGetConvolutionNdForwardOutputDim")
            guard computed == yDims else {
                throw TensorError.deviceError("cuDNN computes conv3d output \(computed) for \(key.input) * \(key.filter), expected \(output)")
            }
            try library.check(api.cudnnSetTensorNdDescriptor(y, cudnnType, 5, yDims, channelsLastStrides(output)),
                              "cudnnSetTensorNdDescriptor(y \(output), NDHWC)")

            var results = [cudnnConvolutionFwdAlgoPerf_t](repeating: cudnnConvolutionFwdAlgoPerf_t(), count: Int(CCUDNN_CONVOLUTION_FWD_ALGO_COUNT))
            var returned: Int32 = 0
            try library.check(api.cudnnGetConvolutionForwardAlgorithm_v7(convolution.handle, x, w, conv, y, Int32(results.count), &returned, &results),
                              "cudnnGetConvolutionForwardAlgorithm_v7")
            // Ranked fastest first; the first that works within the bound. Only the GEMM family
            // (implicit, implicit precomputed, explicit): FFT and Winograd transform the operands
            // and round the transformed values, which the op catalogue's bounds do not allow.
            let gemmFamily: Set<Int32> = [Int32(CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM),
                                          Int32(CCUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM), Int32(CCUDNN_CONVOLUTION_FWD_ALGO_GEMM)]
            guard let best = results.prefix(Int(returned)).first(where: {
                $0.status == 0 && gemmFamily.contains($0.algo) && $0.memory <= Self.convolutionWorkspaceBytes
            }) else {
                throw TensorError.unsupported("cuDNN offers no GEMM-family algorithm for \(key.dataType) \(key.input) * \(key.filter) within \(Self.convolutionWorkspaceBytes >> 20) MiB of workspace")
            }
            var bytes = 0
            try library.check(api.cudnnGetConvolutionForwardWorkspaceSize(convolution.handle, x, w, conv, y, best.algo, &bytes),
                              "cudnnGetConvolutionForwardWorkspaceSize")
            plan = CudnnPlan(x: x, w: w, y: y, conv: conv, algorithm: best.algo, workspaceBytes: bytes)
            // Graph-API plans for the same operands; none when cuDNN offers none (the legacy algorithm runs).
            plan.graphCandidates = (try? CudnnGraphPlan.candidates(library, handle: convolution.handle, key: key, cudnnType: cudnnType,
                                                                   output: output, workspaceLimit: Self.convolutionWorkspaceBytes,
                                                                   limit: Self.cudnnGraphCandidates)) ?? []
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
