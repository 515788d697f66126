import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// The CUDA backend: one device, its primary context, one stream on which every op is
/// enqueued in submission order, a caching allocator, NVRTC-compiled kernels (cubins cached
/// on disk), cuBLASLt GEMMs and, when found, cuDNN convolutions. Libraries are loaded with
/// dlopen at run time.
///
/// Ops return as soon as their work is enqueued; `toHost` and `synchronize` wait for it.
/// Ops without a CUDA implementation yet throw `TensorError.unsupported`.
public final class CUDABackend: Backend, @unchecked Sendable {
    public let device: Device
    public let name: String
    /// e.g. "NVIDIA H100 80GB HBM3".
    public let deviceName: String
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessorCount: Int
    /// Most dynamic shared memory one block may opt into (bytes): 163 KiB on sm_80, 227 KiB on
    /// sm_90, 99 KiB on sm_86/89/120; or the smaller `sharedMemoryLimit` given to `init`.
    public let maxSharedMemoryPerBlock: Int
    /// The driver's CUDA version, e.g. 13000.
    public let driverVersion: Int
    public let totalMemory: Int
    public let compiler: KernelCompiler
    /// When set, every buffer from `empty` is filled with this byte before use (tests poison
    /// outputs with 0xFF, a NaN in f32, bf16 and f16, to catch elements a kernel never writes).
    public let fillByte: UInt8?
    /// Bytes of guard pattern placed after every buffer from `empty` (0: none); `guardIntact`
    /// checks them, catching writes past the end of an output.
    public let guardBytes: Int
    static let guardPattern: UInt8 = 0xA5

    let driver: CUDADriver
    let context: CUcontext
    let stream: CUstream
    let allocator: CUDAAllocator
    let modules: KernelModules
    let gemm = GemmState()
    let convolution: ConvolutionState
    /// How conv3d and conv2d run (implicit GEMM, im2col or cuDNN); see `convolutionSummary`.
    public let convolutionEngine: ConvolutionEngine
    /// Whether kernels awaiting their first GPU verification run (`CUDAKernelSet.candidate`).
    public let kernelSet: CUDAKernelSet
    let transfers: TransferQueue
    let staging: PinnedStaging
    /// Bytes copied from the host so far (load reports: GB/s).
    public private(set) var uploadedBytes = 0

    /// True when a CUDA device can be opened (driver found, device present, NVRTC found).
    public static var isAvailable: Bool { unavailableReason == nil }

    /// Why `CUDABackend()` would fail on this machine, or nil if device 0 opens.
    public static let unavailableReason: String? = {
        do {
            _ = try CUDABackend(deviceIndex: 0)
            return nil
        } catch {
            return "\(error)"
        }
    }()

    /// Opens CUDA device `deviceIndex`. Throws `TensorError.deviceError` explaining what is
    /// missing: the driver library (with the paths tried), a device, NVRTC, or a new enough driver.
    /// cuDNN is optional: the default engine (`.cudnn`) uses it when libcudnn.so.9 loads, our kernels otherwise.
    /// `sharedMemoryLimit` caps the shared memory per block that kernels are planned for (below the
    /// device's opt-in maximum; e.g. 101 376 bytes, Ada's 99 KiB, on a Hopper card), so the paths a
    /// smaller GPU takes (smaller tiles, staged rings, CUDA-core fallbacks) can be tested on this one.
    /// `kernelSet` `.candidate` also launches the kernels not yet verified on a GPU (CUDAKernelSet).
    public init(deviceIndex: Int = 0, kernelCacheDirectory: String? = KernelCompiler.defaultCacheDirectory(),
                fillNewBuffersWith fillByte: UInt8? = nil, guardBytes: Int = 0,
                convolutionEngine: ConvolutionEngine = .standard, sharedMemoryLimit: Int? = nil,
                kernelSet: CUDAKernelSet = .standard) throws {
        if let sharedMemoryLimit, sharedMemoryLimit < 48 * 1024 {
            throw TensorError.invalidArgument("shared memory limit \(sharedMemoryLimit) bytes: every CUDA GPU since sm_70 has at least 49152 bytes (48 KiB) per block")
        }
        let driver = try CUDADriver.shared.get()
        let api = driver.api
        let initStatus = api.cuInit(0)
        if initStatus == CUresult(CCUDA_ERROR_NO_DEVICE) {
            throw TensorError.deviceError("CUDA is not available: the NVIDIA driver (\(driver.path)) reports no CUDA device")
        }
        if initStatus == 35 || initStatus == 222 {   // CUDA_ERROR_INSUFFICIENT_DRIVER / UNSUPPORTED_PTX_VERSION
            throw TensorError.deviceError("CUDA is not available: the NVIDIA driver is too old (\(driver.describe(initStatus)))")
        }
        try driver.check(initStatus, "cuInit")
        var count: Int32 = 0
        try driver.check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard count > 0 else { throw TensorError.deviceError("CUDA is not available: no CUDA device found") }
        guard deviceIndex >= 0, deviceIndex < Int(count) else {
            throw TensorError.invalidArgument("CUDA device \(deviceIndex) does not exist; this machine has \(count) (0..<\(count))")
        }
        var dev: CUdevice = 0
        try driver.check(api.cuDeviceGet(&dev, Int32(deviceIndex)), "cuDeviceGet")
        func attribute(_ a: Int32) throws -> Int {
            var v: Int32 = 0
            try driver.check(api.cuDeviceGetAttribute(&v, a, dev), "cuDeviceGetAttribute(\(a))")
            return Int(v)
        }
        let major = try attribute(Int32(CCU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR))
        let minor = try attribute(Int32(CCU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))
        multiprocessorCount = try attribute(Int32(CCU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT))
        let deviceSharedMemory = try attribute(Int32(CCU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN))
        maxSharedMemoryPerBlock = min(deviceSharedMemory, sharedMemoryLimit ?? deviceSharedMemory)
        var nameBuffer = [CChar](repeating: 0, count: 256)
        try driver.check(api.cuDeviceGetName(&nameBuffer, Int32(nameBuffer.count), dev), "cuDeviceGetName")
        deviceName = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var total = 0
        try driver.check(api.cuDeviceTotalMem(&total, dev), "cuDeviceTotalMem")
        totalMemory = total
        guard major >= 7 else {
            throw TensorError.deviceError("CUDA device \(deviceIndex) (\(deviceName)) has compute capability \(major).\(minor); sm_70 or newer is needed")
        }

        var ctx: CUcontext?
        try driver.check(api.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain")
        guard let ctx else { throw TensorError.deviceError("cuDevicePrimaryCtxRetain returned no context") }
        let device = Device.cuda(deviceIndex)
        // From here the allocator owns the context reference and releases it in its deinit.
        allocator = CUDAAllocator(driver: driver, device: device, cuDevice: dev, context: ctx)
        // sm_90a on Hopper: wgmma (hopper_attention.cu) exists only for the arch-specific target,
        // whose cubins run on compute capability 9.0 alone, which is the device here.
        let architecture = (major, minor) == (9, 0) ? "sm_90a" : "sm_\(major)\(minor)"
        compiler = try KernelCompiler(architecture: architecture, maxCUDAVersion: driver.version,
                                      cacheDirectory: kernelCacheDirectory)
        try driver.check(api.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        var s: CUstream?
        try driver.check(api.cuStreamCreate(&s, UInt32(CCU_STREAM_NON_BLOCKING)), "cuStreamCreate")
        guard let s else { throw TensorError.deviceError("cuStreamCreate returned no stream") }
        transfers = try TransferQueue(driver: driver)
        staging = PinnedStaging(driver: driver, context: ctx)
        self.driver = driver
        self.device = device
        context = ctx
        stream = s
        computeCapability = (major, minor)
        driverVersion = driver.version
        self.fillByte = fillByte
        self.guardBytes = max(0, guardBytes)
        modules = KernelModules(driver: driver, compiler: compiler)
        self.convolutionEngine = convolutionEngine
        self.kernelSet = kernelSet
        convolution = ConvolutionState(engine: convolutionEngine, choiceCacheDirectory: compiler.cacheDirectory)
        name = "\(device) \(deviceName)"
    }

    deinit {
        _ = driver.api.cuCtxSetCurrent(context)
        _ = driver.api.cuStreamSynchronize(stream)
        transfers.destroy(driver)
        staging.release()
        gemm.destroy(lt: try? CublasLtLibrary.shared.get())
        convolution.destroy()
        modules.unloadAll()
        _ = driver.api.cuStreamDestroy(stream)
    }

    /// Makes this backend's context current on the calling thread (each op calls it first).
    func activate() throws {
        try driver.check(driver.api.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Bytes held by live tensors, by the allocator's cache, and the peak of live bytes.
    public var memoryStatistics: (live: Int, cached: Int, peak: Int) { allocator.statistics }

    /// Starts a new peak of `memoryStatistics` from the bytes live now (per-stage peaks).
    public func resetPeakMemory() { allocator.resetPeak() }

    /// Limits the device memory this backend holds (tensors and cache) to `bytes`, or lifts the limit (nil).
    public func setMemoryLimit(_ bytes: Int?) { allocator.limit = bytes }

    /// The limit of `setMemoryLimit`, if any.
    public var memoryLimit: Int? { allocator.limit }

    /// Free and total bytes of the device as the driver reports them (other processes included).
    public func deviceMemory() throws -> (free: Int, total: Int) {
        try activate()
        var free = 0, total = 0
        try driver.check(driver.api.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// True when the guard bytes after `t`'s buffer (see `guardBytes`) still hold their pattern.
    /// Waits for pending work.
    public func guardIntact(_ t: Tensor) throws -> Bool {
        guard guardBytes > 0 else { return true }
        let b = try deviceBuffer(t, "guardIntact")
        let dataBytes = b.byteCount - guardBytes
        guard dataBytes >= 0 else { return true }
        var tail = [UInt8](repeating: 0, count: guardBytes)
        try activate()
        try tail.withUnsafeMutableBytes {
            try driver.check(driver.api.cuMemcpyDtoHAsync($0.baseAddress!, b.address + UInt64(dataBytes), guardBytes, stream), "cuMemcpyDtoHAsync")
        }
        try synchronize()
        return tail.allSatisfy { $0 == Self.guardPattern }
    }

    /// Waits for the stream, then returns cached blocks to the driver.
    public func emptyCache() throws {
        try synchronize()
        try allocator.emptyCache()
    }

    // MARK: Memory

    public func empty(_ shape: [Int], dtype: DType) throws -> Tensor {
        try activate()
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidArgument("empty: negative dimension in \(shape)") }
        let bytes = shape.reduce(1, *) * dtype.byteSize
        let buffer = try allocator.allocate(bytes + guardBytes) { try self.synchronize() }
        if let fillByte, bytes > 0 {
            try driver.check(driver.api.cuMemsetD8Async(buffer.address, fillByte, bytes, stream), "cuMemsetD8Async")
        }
        if guardBytes > 0 {
            try driver.check(driver.api.cuMemsetD8Async(buffer.address + UInt64(bytes), Self.guardPattern, guardBytes, stream),
                             "cuMemsetD8Async")
        }
        return try Tensor(buffer: buffer, dtype: dtype, shape: shape)
    }

    /// The CUDA buffer behind `t`, or an error naming the op and where `t` lives.
    func deviceBuffer(_ t: Tensor, _ op: String) throws -> CUDABuffer {
        guard let b = t.buffer as? CUDABuffer, b.device == device else {
            throw TensorError.invalidArgument("\(op): tensor lives on \(t.device), this backend is \(device); upload it first")
        }
        return b
    }

    /// Device address of element `index` of `t` (an element offset from the buffer start).
    func address(_ t: Tensor, element index: Int = 0) throws -> UInt64 {
        try deviceBuffer(t, "address").address + UInt64((t.offset + index) * t.dtype.byteSize)
    }

    public func upload(_ t: Tensor) throws -> Tensor {
        if let b = t.buffer as? CUDABuffer, b.device == device { return t }
        let out = try empty(t.shape, dtype: t.dtype)
        guard t.count > 0 else { return out }
        try copyToDevice(t, into: out, stream: stream)
        return out
    }

    /// Enqueues the copy of host tensor `t` into `out` (contiguous, same size) on `stream`; large
    /// tensors go through the pinned staging buffers. `t` may be freed when this returns.
    func copyToDevice(_ t: Tensor, into out: Tensor, stream: CUstream) throws {
        guard let host = t.buffer as? HostBuffer else {
            throw TensorError.invalidArgument("upload: tensor lives on \(t.device); only host tensors can be uploaded to \(device)")
        }
        try activate()
        let dst = try address(out)
        uploadedBytes += t.byteCount
        if t.isContiguous {
            try staging.copy(to: dst, from: UnsafeRawPointer(host.base) + t.offset * t.dtype.byteSize, bytes: t.byteCount, stream: stream)
        } else {
            // Gather the view on the host first; the copy call returns once the source is staged.
            let dense = try Tensor.hostEmpty(t.shape, dtype: t.dtype)
            let d = try dense.hostBuffer().base, s = UnsafeRawPointer(host.base), size = t.dtype.byteSize
            forEachStridedOffset(shape: t.shape, strides: t.strides, offset: t.offset) { i, e in
                (d + i * size).copyMemory(from: s + e * size, byteCount: size)
            }
            try staging.copy(to: dst, from: UnsafeRawPointer(d), bytes: t.byteCount, stream: stream)
        }
    }

    public func toHost(_ t: Tensor) throws -> Tensor {
        if t.buffer is HostBuffer { return t }
        _ = try deviceBuffer(t, "toHost")
        try activate()
        let dense = t.isContiguous ? t : try contiguous(t)
        let out = try Tensor.hostEmpty(t.shape, dtype: t.dtype)
        guard t.count > 0 else { return out }
        try driver.check(driver.api.cuMemcpyDtoHAsync(try out.hostBuffer().base, try address(dense), t.byteCount, stream),
                         "cuMemcpyDtoHAsync")
        try synchronize()
        return out
    }

    public func synchronize() throws {
        try activate()
        var status = driver.api.cuStreamSynchronize(transfers.stream)
        if status == 0 { status = driver.api.cuStreamSynchronize(stream) }
        guard status == 0 else {
            throw TensorError.deviceError("cuStreamSynchronize reported an error from earlier asynchronous work: \(driver.describe(status))")
        }
    }

}
