import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// A block of device memory. When the last tensor viewing it goes away the block returns to
/// its allocator's cache, not to the driver: the next allocation of that size reuses it.
/// Reuse is safe because all work runs on the backend's single stream, in order.
public final class CUDABuffer: DeviceBuffer, @unchecked Sendable {
    public let device: Device
    public let byteCount: Int
    /// The device address (a CUdeviceptr); 0 for an empty buffer.
    public let address: UInt64
    let capacity: Int
    let allocator: CUDAAllocator

    init(device: Device, byteCount: Int, address: UInt64, capacity: Int, allocator: CUDAAllocator) {
        self.device = device
        self.byteCount = byteCount
        self.address = address
        self.capacity = capacity
        self.allocator = allocator
    }

    deinit {
        if capacity > 0 { allocator.recycle(address, capacity: capacity) }
    }
}

/// Caching allocator for one device. Sizes are rounded up (512 B below 1 MiB, 2 MiB above)
/// and freed blocks are kept per rounded size. When the driver runs out of memory the cache
/// is handed back to it and the allocation retried once.
/// The allocator holds the device's primary context and releases it last, after every block.
final class CUDAAllocator: @unchecked Sendable {
    let driver: CUDADriver
    let device: Device
    let cuDevice: CUdevice
    let context: CUcontext

    /// Most bytes held (live + cached) at once, or nil for no limit (`--max_vram`): an allocation
    /// beyond it first returns the cache to the driver, then fails as an out-of-memory would.
    var limit: Int?

    private let lock = Lock()
    private var cache: [Int: [UInt64]] = [:]
    private var cachedBytes = 0
    private var liveBytes = 0
    private var peakBytes = 0

    init(driver: CUDADriver, device: Device, cuDevice: CUdevice, context: CUcontext) {
        self.driver = driver
        self.device = device
        self.cuDevice = cuDevice
        self.context = context
    }

    deinit {
        _ = driver.api.cuCtxSetCurrent(context)
        for (_, blocks) in cache { for p in blocks { _ = driver.api.cuMemFree(p) } }
        _ = driver.api.cuDevicePrimaryCtxRelease(cuDevice)
    }

    static func roundedSize(_ bytes: Int) -> Int {
        let small = 512, large = 2 << 20
        return bytes < (1 << 20) ? (bytes + small - 1) / small * small : (bytes + large - 1) / large * large
    }

    /// Bytes held by live buffers, by the cache, and the most ever live at once.
    var statistics: (live: Int, cached: Int, peak: Int) {
        lock.withLock { (liveBytes, cachedBytes, peakBytes) }
    }

    /// Starts a new peak measurement from the bytes live now.
    func resetPeak() { lock.withLock { peakBytes = liveBytes } }

    /// A block of at least `bytes`. `synchronize` is called before cached blocks are freed.
    func allocate(_ bytes: Int, synchronize: () throws -> Void) throws -> CUDABuffer {
        guard bytes > 0 else {
            return CUDABuffer(device: device, byteCount: 0, address: 0, capacity: 0, allocator: self)
        }
        let size = Self.roundedSize(bytes)
        if let (p, capacity) = takeCached(size) {
            return CUDABuffer(device: device, byteCount: bytes, address: p, capacity: capacity, allocator: self)
        }
        if let limit {
            let held = statistics
            if held.live + held.cached + size > limit {
                try synchronize()
                try emptyCache()
            }
            if held.live + size > limit {
                throw TensorError.outOfMemory("requested \(size >> 20) MiB with \(max(0, limit - held.live) >> 20) MiB free under the device memory limit of \(limit >> 20) MiB (--max_vram); this process holds \(held.live >> 20) MiB in tensors")
            }
        }
        var pointer: CUdeviceptr = 0
        var status = driver.api.cuMemAlloc(&pointer, size)
        if status == CUresult(CCUDA_ERROR_OUT_OF_MEMORY) {
            try synchronize()
            try emptyCache()
            status = driver.api.cuMemAlloc(&pointer, size)
        }
        if status != 0 {
            var free = 0, total = 0
            _ = driver.api.cuMemGetInfo(&free, &total)
            let stats = statistics
            let message = "cuMemAlloc of \(size >> 20) MiB (\(size) bytes) failed: \(driver.describe(status)); the device has \(free >> 20) MiB free of \(total >> 20) MiB, this process holds \(stats.live >> 20) MiB in tensors"
            if status == CUresult(CCUDA_ERROR_OUT_OF_MEMORY) { throw TensorError.outOfMemory(message) }
            throw TensorError.deviceError(message)
        }
        lock.withLock {
            liveBytes += size
            peakBytes = max(peakBytes, liveBytes)
        }
        return CUDABuffer(device: device, byteCount: bytes, address: pointer, capacity: size, allocator: self)
    }

    /// An exact-size cached block, or for large sizes one at most 1/8 larger.
    private func takeCached(_ size: Int) -> (UInt64, Int)? {
        lock.withLock {
            var key = size
            if cache[size]?.isEmpty ?? true {
                guard size >= (1 << 20),
                      let best = cache.filter({ !$0.value.isEmpty && $0.key > size && $0.key <= size + size / 8 }).keys.min() else { return nil }
                key = best
            }
            guard let p = cache[key]?.popLast() else { return nil }
            cachedBytes -= key
            liveBytes += key
            peakBytes = max(peakBytes, liveBytes)
            return (p, key)
        }
    }

    func recycle(_ pointer: UInt64, capacity: Int) {
        lock.withLock {
            cache[capacity, default: []].append(pointer)
            cachedBytes += capacity
            liveBytes -= capacity
        }
    }

    /// Returns every cached block to the driver. Callers synchronize the stream first.
    func emptyCache() throws {
        let blocks: [UInt64] = lock.withLock {
            let all = cache.flatMap { $0.value }
            cache.removeAll()
            cachedBytes = 0
            return all
        }
        try driver.check(driver.api.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        for p in blocks { try driver.check(driver.api.cuMemFree(p), "cuMemFree") }
    }
}
