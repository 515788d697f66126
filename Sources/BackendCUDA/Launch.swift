import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// A kernel family: one `Kernels/<name>.cu` file, compiled (after `common.cu` and any files whose
/// primitives it uses) into one module. Adding a family: write the `.cu` file, add a case here and
/// to `all` (and a prelude to `PRELUDES` in scripts/cuda/check_kernels.py).
struct KernelFamily: Sendable {
    let name: String
    let source: String

    init(_ name: String, _ bodies: String...) {
        self.name = name
        source = ([KernelSources.common] + bodies).joined(separator: "\n")
    }

    static let elementwise = KernelFamily("elementwise", KernelSources.elementwise)
    static let softmax = KernelFamily("softmax", KernelSources.softmax)
    static let attention = KernelFamily("attention", KernelSources.attention)
    static let flashAttention = KernelFamily("flash_attention", KernelSources.flashAttention)
    static let hopperAttention = KernelFamily("hopper_attention", KernelSources.flashAttention, KernelSources.hopperAttention)
    static let layout = KernelFamily("layout", KernelSources.layout)
    static let norms = KernelFamily("norms", KernelSources.norms)
    static let modulation = KernelFamily("modulation", KernelSources.norms, KernelSources.modulation)
    static let sparseAttention = KernelFamily("sparse_attention", KernelSources.sparseAttention)
    static let sageAttention = KernelFamily("sage_attention", KernelSources.sageAttention)
    static let sageAttentionMMA = KernelFamily("sage_attention_mma", primitives(of: KernelSources.sageAttention),
                                               KernelSources.sageAttentionMma)
    static let slaLinear = KernelFamily("sla_linear", KernelSources.slaLinear)
    static let quantizedMatmul = KernelFamily("quantized_matmul", primitives(of: KernelSources.flashAttention),
                                              primitives(of: KernelSources.hopperAttention), KernelSources.quantizedMatmul,
                                              KernelSources.quantizedMatmulWgmma)
    static let conv = KernelFamily("conv", KernelSources.conv)
    static let implicitConv = KernelFamily("implicit_conv", primitives(of: KernelSources.flashAttention), KernelSources.implicitConv)
    static let hopperConv = KernelFamily("hopper_conv", primitives(of: KernelSources.flashAttention),
                                         primitives(of: KernelSources.hopperAttention), KernelSources.hopperConv)

    /// A kernel file up to its "// ---- end primitives" line: its device helpers without its kernels,
    /// for families that share them (the whole file when it has no such line).
    static func primitives(of source: String) -> String {
        guard let end = source.firstRange(of: "// ---- end primitives") else { return source }
        return String(source[..<end.lowerBound])
    }
    /// Every family, for tests that compile them all.
    static let all: [KernelFamily] = [.elementwise, .softmax, .attention, .flashAttention, .hopperAttention, .layout, .norms, .modulation,
                                       .sparseAttention, .slaLinear, .sageAttention, .sageAttentionMMA, .quantizedMatmul, .conv,
                                       .implicitConv, .hopperConv]
}

/// Loaded modules and their functions, compiled on first use.
final class KernelModules: @unchecked Sendable {
    let driver: CUDADriver
    let compiler: KernelCompiler
    private let lock = Lock()
    private var modules: [String: CUmodule] = [:]
    private var functions: [String: CUfunction] = [:]
    private var sharedMemoryRaised: [UInt: Int] = [:]

    init(driver: CUDADriver, compiler: KernelCompiler) {
        self.driver = driver
        self.compiler = compiler
    }

    /// `kernel` of `family`; the caller's thread has the context current.
    func function(_ family: KernelFamily, _ kernel: String) throws -> CUfunction {
        try lock.withLock {
            let key = "\(family.name).\(kernel)"
            if let f = functions[key] { return f }
            let module = try modules[family.name] ?? load(family)
            modules[family.name] = module
            var f: CUfunction?
            try driver.check(driver.api.cuModuleGetFunction(&f, module, kernel), "cuModuleGetFunction(\(kernel))")
            guard let f else { throw TensorError.deviceError("cuModuleGetFunction(\(kernel)) returned nothing") }
            functions[key] = f
            return f
        }
    }

    private func load(_ family: KernelFamily) throws -> CUmodule {
        func attempt(refresh: Bool) throws -> (CUmodule?, CUresult) {
            let cubin = try compiler.cubin(name: family.name, source: family.source, refresh: refresh)
            var module: CUmodule?
            let status = cubin.withUnsafeBytes { driver.api.cuModuleLoadData(&module, $0.baseAddress) }
            return (module, status)
        }
        var (module, status) = try attempt(refresh: false)
        if status != 0 {
            // A damaged or stale cache entry: compile afresh once.
            (module, status) = try attempt(refresh: true)
        }
        try driver.check(status, "cuModuleLoadData(\(family.name) for \(compiler.architecture))")
        guard let module else { throw TensorError.deviceError("cuModuleLoadData(\(family.name)) returned no module") }
        return module
    }

    /// Raises a function's dynamic shared memory limit to `bytes` (needed above 48 KiB).
    func allowSharedMemory(_ f: CUfunction, bytes: Int) throws {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(f)))
        let done = lock.withLock { sharedMemoryRaised[key] ?? 0 >= bytes }
        if done { return }
        try driver.check(driver.api.cuFuncSetAttribute(f, Int32(CCU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), Int32(bytes)),
                         "cuFuncSetAttribute(max dynamic shared memory \(bytes))")
        lock.withLock { sharedMemoryRaised[key] = bytes }
    }

    func unloadAll() {
        lock.withLock {
            for (_, m) in modules { _ = driver.api.cuModuleUnload(m) }
            modules.removeAll()
            functions.removeAll()
        }
    }
}

/// The `Strided` struct of Kernels/Common.swift: linear flag, offset, 8 sizes, 8 strides (all i64).
struct StridedArgument {
    static let maxDims = 8
    var words: [Int64]

    /// The view (shape, strides, offset) with size-1 dims dropped and mergeable neighbours merged.
    init(shape: [Int], strides: [Int], offset: Int) throws {
        var dims: [(size: Int, stride: Int)] = []
        for (n, s) in zip(shape, strides) where n != 1 {
            if let last = dims.last, last.stride == s * n {
                dims[dims.count - 1] = (last.size * n, s)
            } else {
                dims.append((n, s))
            }
        }
        guard dims.count <= Self.maxDims else {
            throw TensorError.unsupported("a strided view \(shape) with strides \(strides) has more than \(Self.maxDims) non-mergeable dimensions on CUDA")
        }
        let linear = dims.isEmpty || (dims.count == 1 && dims[0].stride == 1)
        var sizes = [Int64](repeating: 1, count: Self.maxDims), steps = [Int64](repeating: 0, count: Self.maxDims)
        for (i, d) in dims.enumerated() {
            sizes[Self.maxDims - dims.count + i] = Int64(d.size)
            steps[Self.maxDims - dims.count + i] = Int64(d.stride)
        }
        words = [linear ? 1 : 0, Int64(offset)] + sizes + steps
    }

    /// For a tensor (offset relative to its buffer's start).
    init(_ t: Tensor) throws { try self.init(shape: t.shape, strides: t.strides, offset: t.offset) }

    var isLinear: Bool { words[0] != 0 }
}

/// One kernel parameter, laid out as the kernel's C signature expects.
enum KernelArgument {
    case pointer(UInt64)
    case int32(Int32)
    case int64(Int64)
    case float(Float)
    case strided(StridedArgument)

    var byteCount: Int {
        switch self {
        case .pointer, .int64: 8
        case .int32, .float: 4
        case .strided(let s): s.words.count * 8
        }
    }
}

extension CUDABackend {
    /// Threads per block of the elementwise kernels and a grid that covers `n` elements with
    /// grid-stride loops (at most 32 blocks per multiprocessor).
    func elementwiseGrid(_ n: Int) -> (grid: Int, block: Int) {
        let block = 256
        return (max(1, min((n + block - 1) / block, multiprocessorCount * 32)), block)
    }

    /// Enqueues `kernel` of `family` on the stream. Parameters are copied by cuLaunchKernel,
    /// so the staging memory is released on return.
    func launch(_ family: KernelFamily, _ kernel: String, grid: Int, block: Int, sharedBytes: Int = 0,
                _ arguments: [KernelArgument]) throws {
        try launch(family, kernel, grid: (grid, 1, 1), block: (block, 1, 1), sharedBytes: sharedBytes, arguments)
    }

    /// As above with 3-D grid and block shapes. Kernels needing more than 48 KiB of dynamic shared
    /// memory get the attribute raised first (once per function).
    func launch(_ family: KernelFamily, _ kernel: String, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                _ arguments: [KernelArgument]) throws {
        guard grid.0 > 0, grid.1 > 0, grid.2 > 0, grid.1 <= 65535, grid.2 <= 65535, grid.0 <= Int(Int32.max) else {
            throw TensorError.invalidArgument("\(kernel): launch grid \(grid) is empty or too large")
        }
        let f = try modules.function(family, kernel)
        if sharedBytes > 48 * 1024 { try modules.allowSharedMemory(f, bytes: sharedBytes) }
        let total = arguments.reduce(0) { $0 + ($1.byteCount + 7) / 8 * 8 }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 8), alignment: 16)
        defer { storage.deallocate() }
        var pointers: [UnsafeMutableRawPointer?] = []
        var offset = 0
        for argument in arguments {
            let p = storage + offset
            switch argument {
            case .pointer(let v): p.storeBytes(of: v, as: UInt64.self)
            case .int32(let v): p.storeBytes(of: v, as: Int32.self)
            case .int64(let v): p.storeBytes(of: v, as: Int64.self)
            case .float(let v): p.storeBytes(of: v, as: Float.self)
            case .strided(let s):
                s.words.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            pointers.append(p)
            offset += (argument.byteCount + 7) / 8 * 8
        }
        let status = pointers.withUnsafeMutableBufferPointer { params in
            driver.api.cuLaunchKernel(f, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                                      UInt32(block.0), UInt32(block.1), UInt32(block.2), UInt32(sharedBytes), stream,
                                      params.baseAddress, nil)
        }
        try driver.check(status, "cuLaunchKernel(\(kernel))")
    }
}

extension KernelCompiler {
    /// The backend's kernel sources (family name, CUDA C++), e.g. to compile them all ahead of time.
    public static var backendKernelSources: [(name: String, source: String)] {
        KernelFamily.all.map { ($0.name, $0.source) }
    }
}
