import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// The CUDA driver (libcuda.so.1): device, context, memory, streams, modules, launches.
final class CUDADriver: @unchecked Sendable {
    let api: CCUDADriverAPI
    let path: String
    /// CUDA version the driver supports, e.g. 13000 for 13.0.
    let version: Int

    private init(api: CCUDADriverAPI, path: String, version: Int) {
        self.api = api
        self.path = path
        self.version = version
    }

    static let shared = LibrarySearch.once(load)

    private static func load() throws -> CUDADriver {
        // Never the toolkit's lib64/stubs/libcuda.so: the stub loads but every call fails.
        let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
                    "/usr/local/nvidia/lib", "/usr/lib/wsl/lib", "/usr/lib/aarch64-linux-gnu"]
        let candidates = LibrarySearch.environmentDirectories().map { "\($0)/libcuda.so.1" }
            + ["libcuda.so.1"] + dirs.map { "\($0)/libcuda.so.1" }
        let (table, path) = try LibrarySearch.load("the NVIDIA driver library libcuda.so.1", candidates: candidates,
                                                   hint: "Is an NVIDIA driver installed and a GPU visible to this machine?",
                                                   missingMeans: "driver too old", resolve: ccuda_load_driver)
        var version: Int32 = 0
        _ = table.cuDriverGetVersion(&version)
        return CUDADriver(api: table, path: path, version: Int(version))
    }

    /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for a result code.
    func describe(_ code: CUresult) -> String {
        var name: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?
        _ = api.cuGetErrorName(code, &name)
        _ = api.cuGetErrorString(code, &text)
        let n = name.map { String(cString: $0) } ?? "CUDA error \(code)"
        return text.map { "\(n) (\(String(cString: $0)))" } ?? n
    }

    /// Throws unless `code` is CUDA_SUCCESS; the message names the function.
    func check(_ code: CUresult, _ function: String) throws {
        guard code != 0 else { return }
        let message = "\(function) failed: \(describe(code))"
        if code == CUresult(CCUDA_ERROR_OUT_OF_MEMORY) { throw TensorError.outOfMemory(message) }
        throw TensorError.deviceError(message)
    }
}

/// NVRTC (libnvrtc.so.*), the run-time CUDA C++ compiler.
final class NVRTCLibrary: @unchecked Sendable {
    let api: CCUDANVRTCAPI
    let path: String
    let major: Int
    let minor: Int

    private init(api: CCUDANVRTCAPI, path: String, major: Int, minor: Int) {
        self.api = api
        self.path = path
        self.major = major
        self.minor = minor
    }

    /// As a CUDA version number, e.g. 13000 for 13.0.
    var version: Int { major * 1000 + minor * 10 }

    private static let cacheLock = Lock()
    nonisolated(unsafe) private static var cache: [Int: Result<NVRTCLibrary, TensorError>] = [:]

    /// The library for a driver of CUDA version `maxVersion` (nil: any), loaded once per process.
    static func shared(maxVersion: Int?) throws -> NVRTCLibrary {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        let key = maxVersion ?? Int.max
        if let cached = cache[key] { return try cached.get() }
        let result = LibrarySearch.once { try load(maxVersion: maxVersion) }
        cache[key] = result
        return try result.get()
    }

    /// The newest NVRTC found, limited to `maxVersion` (the driver's CUDA version): a cubin
    /// from a newer compiler does not load on an older driver.
    private static func load(maxVersion: Int?) throws -> NVRTCLibrary {
        let candidates = LibrarySearch.candidates(sonames: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], prefix: "libnvrtc.so",
                                                  pipPackages: ["cu13", "cuda_nvrtc"])
        var major: Int32 = 0, minor: Int32 = 0
        let (table, path) = try LibrarySearch.load("NVRTC (libnvrtc.so)", candidates: candidates,
                                                   hint: "Install the CUDA toolkit or the nvidia-cuda-nvrtc wheel.",
                                                   resolve: ccuda_load_nvrtc, accept: { table, candidate in
            preloadBuiltins(besides: candidate)
            _ = table.nvrtcVersion(&major, &minor)
            if let maxVersion, Int(major) * 1000 + Int(minor) * 10 > maxVersion {
                throw TensorError.deviceError("NVRTC \(major).\(minor) is newer than the driver's CUDA \(maxVersion / 1000).\(maxVersion % 1000 / 10): the driver is too old for it")
            }
        })
        return NVRTCLibrary(api: table, path: path, major: Int(major), minor: Int(minor))
    }

    /// NVRTC opens libnvrtc-builtins.so.X.Y by name when it first compiles. When we found
    /// libnvrtc in a folder the dynamic loader does not search (a pip wheel, $CUDA_HOME), load
    /// the builtins from that folder now; the loader then resolves the name to this copy.
    private static func preloadBuiltins(besides path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let dir = String(path[..<slash])
        for candidate in LibrarySearch.matches(in: dir, prefix: "libnvrtc-builtins.so") {
            var error = [CChar](repeating: 0, count: 256)
            if ccuda_open(candidate, &error, error.count) != nil { return }   // kept open for the process
        }
    }

    func check(_ code: nvrtcResult, _ function: String) throws {
        guard code != 0 else { return }
        let text = api.nvrtcGetErrorString(code).map { String(cString: $0) } ?? "NVRTC error \(code)"
        throw TensorError.deviceError("\(function) failed: \(text)")
    }
}

/// cuBLASLt (libcublasLt.so.*), used for every GEMM.
final class CublasLtLibrary: @unchecked Sendable {
    let api: CCUDACublasLtAPI
    let path: String
    /// e.g. 130100 for 13.1.0.
    let version: Int

    private init(api: CCUDACublasLtAPI, path: String, version: Int) {
        self.api = api
        self.path = path
        self.version = version
    }

    static let shared = LibrarySearch.once(load)

    private static func load() throws -> CublasLtLibrary {
        let candidates = LibrarySearch.candidates(sonames: ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"], prefix: "libcublasLt.so",
                                                  pipPackages: ["cu13", "cublas"])
        let (table, path) = try LibrarySearch.load("cuBLASLt (libcublasLt.so)", candidates: candidates,
                                                   hint: "Install the CUDA toolkit or the nvidia-cublas wheel.", resolve: ccuda_load_cublaslt)
        return CublasLtLibrary(api: table, path: path, version: table.cublasLtGetVersion())
    }

    static func statusName(_ status: cublasStatus_t) -> String {
        switch status {
        case 1: "CUBLAS_STATUS_NOT_INITIALIZED"
        case 3: "CUBLAS_STATUS_ALLOC_FAILED"
        case 7: "CUBLAS_STATUS_INVALID_VALUE"
        case 8: "CUBLAS_STATUS_ARCH_MISMATCH"
        case 11: "CUBLAS_STATUS_MAPPING_ERROR"
        case 13: "CUBLAS_STATUS_EXECUTION_FAILED"
        case 14: "CUBLAS_STATUS_INTERNAL_ERROR"
        case 15: "CUBLAS_STATUS_NOT_SUPPORTED"
        case 16: "CUBLAS_STATUS_LICENSE_ERROR"
        default: "cuBLAS status \(status)"
        }
    }

    func check(_ status: cublasStatus_t, _ function: String) throws {
        guard status != 0 else { return }
        throw TensorError.deviceError("\(function) failed: \(Self.statusName(status))")
    }
}

/// cuDNN 9 (libcudnn.so.9), optional: convolutions use it when it loads and fall back to
/// im2col + cuBLASLt otherwise. Only major version 9 is accepted (the legacy convolution API
/// whose ABI ccuda.h declares).
final class CudnnLibrary: @unchecked Sendable {
    let api: CCUDACudnnAPI
    let path: String
    /// e.g. 92801 for 9.28.1 (cudnnGetVersion: major·10000 + minor·100 + patch).
    let version: Int

    private init(api: CCUDACudnnAPI, path: String, version: Int) {
        self.api = api
        self.path = path
        self.version = version
    }

    /// "9.28.1".
    var versionString: String { LibrarySearch.versionString(version) }

    static let shared = LibrarySearch.once(load)

    private static func load() throws -> CudnnLibrary {
        // The wheel's folder is nvidia/cudnn/lib; a toolkit install puts it beside libcudart.
        let candidates = LibrarySearch.candidates(sonames: ["libcudnn.so.9"], prefix: "libcudnn.so.9", pipPackages: ["cudnn"])
        let (table, path) = try LibrarySearch.load(
            "cuDNN 9 (libcudnn.so.9)", candidates: candidates,
            hint: "Install the nvidia-cudnn-cu13 (or -cu12) wheel or cuDNN 9, or name its folder in TURBODIFFUSION_CUDA_LIBS.",
            required: false, resolve: ccuda_load_cudnn, prepare: openSublibraries(besides:), accept: { table, _ in
                let v = table.cudnnGetVersion()
                guard v / 10000 == 9 else { throw TensorError.deviceError("version \(v) is not cuDNN 9") }
            })
        return CudnnLibrary(api: table, path: path, version: table.cudnnGetVersion())
    }

    /// The dispatcher resolves every entry point in a sub-library it opens by name from its own
    /// folder, and aborts the process (no error status) when one is missing, even for
    /// cudnnGetVersion. So the three it needs for convolutions are opened here first, from the
    /// dispatcher's folder (by soname when it was found through the loader); they stay open,
    /// and its later opens of the same sonames resolve to them.
    private static func openSublibraries(besides path: String) throws {
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        for name in ["libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"] {
            var error = [CChar](repeating: 0, count: 512)
            guard ccuda_open(folder + name, &error, error.count) != nil else {
                let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw TensorError.deviceError("its sub-library \(name) does not load: \(message)")
            }
        }
    }

    /// Throws unless `status` is CUDNN_STATUS_SUCCESS: `.unsupported` for the 3000s (not
    /// supported) and 2000s (bad parameter: a shape or size outside what cuDNN handles), so the
    /// caller can take another path; `.deviceError` otherwise. The message carries cuDNN's own.
    func check(_ status: cudnnStatus_t, _ function: String) throws {
        guard status != 0 else { return }
        let name = api.cudnnGetErrorString(status).map { String(cString: $0) } ?? "cuDNN status \(status)"
        var detail = [CChar](repeating: 0, count: 512)
        api.cudnnGetLastErrorString(&detail, detail.count)
        let last = String(decoding: detail.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let message = "\(function) failed: \(name)" + (last.isEmpty ? "" : " (\(last))")
        if (2000..<4000).contains(status) { throw TensorError.unsupported(message) }
        throw TensorError.deviceError(message)
    }
}
