import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// Finds and opens the CUDA libraries at run time. Nothing is linked at build time, so a
/// machine without CUDA builds and runs the package; asking for CUDA there gives an error
/// that lists every place that was searched.
enum LibrarySearch {
    /// Directories named by the environment: `TURBODIFFUSION_CUDA_LIBS` (colon separated,
    /// searched first), then `$CUDA_HOME`, `$CUDA_PATH`, `$CUDA_ROOT` (their lib64 and lib).
    static func environmentDirectories() -> [String] {
        let env = ProcessInfo.processInfo.environment
        var dirs: [String] = []
        if let extra = env["TURBODIFFUSION_CUDA_LIBS"] {
            dirs += extra.split(separator: ":").map(String.init)
        }
        for key in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
            if let root = env[key], !root.isEmpty { dirs += ["\(root)/lib64", "\(root)/lib", "\(root)/targets/x86_64-linux/lib"] }
        }
        return dirs
    }

    /// The toolkit directories of a standard install: /usr/local/cuda, then versioned ones, newest first.
    static func toolkitDirectories() -> [String] {
        var dirs = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"]
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/local")) ?? [])
            .filter { $0.hasPrefix("cuda-") }
            .sorted { versionKey($1).lexicographicallyPrecedes(versionKey($0)) }
        dirs += versioned.map { "/usr/local/\($0)/lib64" }
        dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu", "/opt/cuda/lib64"]
        return dirs
    }

    /// Library folders of NVIDIA's pip wheels (nvidia-cuda-nvrtc, nvidia-cublas, nvidia-cudnn) in the
    /// Python environments we can see: $VIRTUAL_ENV, ~/.local, /usr/local, /usr, /opt/*/.venv.
    static func pipDirectories(packages: [String]) -> [String] {
        let env = ProcessInfo.processInfo.environment
        var roots: [String] = []
        if let venv = env["VIRTUAL_ENV"] { roots.append("\(venv)/lib") }
        if let home = env["HOME"] { roots.append("\(home)/.local/lib") }
        roots += ["/usr/local/lib", "/usr/lib"]
        let fm = FileManager.default
        for opt in (try? fm.contentsOfDirectory(atPath: "/opt")) ?? [] {
            roots += ["/opt/\(opt)/.venv/lib", "/opt/\(opt)/venv/lib", "/opt/\(opt)/lib"]
        }
        var dirs: [String] = []
        for root in roots {
            let pythons = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("python3") }
            for py in pythons.sorted(by: >) {
                for site in ["site-packages", "dist-packages"] {
                    for pkg in packages { dirs.append("\(root)/\(py)/\(site)/nvidia/\(pkg)/lib") }
                }
            }
        }
        return dirs
    }

    /// Numeric components of a name like "cuda-12.8" or "libnvrtc.so.13.0.88", for ordering.
    static func versionKey(_ name: String) -> [Int] {
        name.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    }

    /// Files in `dir` whose names start with `prefix` (e.g. "libnvrtc.so"), highest version first.
    static func matches(in dir: String, prefix: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(prefix) }
        return names.sorted { lhs, rhs in
            let a = versionKey(String(lhs.dropFirst(prefix.count))), b = versionKey(String(rhs.dropFirst(prefix.count)))
            return a != b ? b.lexicographicallyPrecedes(a) : lhs > rhs
        }.map { "\(dir)/\($0)" }
    }

    /// Candidate paths: sonames first through the dynamic loader (LD_LIBRARY_PATH, ld.so.cache)
    /// unless environment directories come first, then every file with `prefix` in `directories`.
    static func candidates(sonames: [String], prefix: String, directories: [String]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        func add(_ p: String) { if seen.insert(p).inserted { out.append(p) } }
        let envDirs = environmentDirectories()
        for dir in envDirs { matches(in: dir, prefix: prefix).forEach(add) }
        sonames.forEach(add)
        for dir in directories { matches(in: dir, prefix: prefix).forEach(add) }
        return out
    }

    /// Opens the first candidate `accept` agrees to. Throws a message listing every attempt
    /// (`required: false` for an optional library: the message then says only what is missing).
    static func open(_ what: String, candidates: [String], hint: String, required: Bool = true,
                     accept: (UnsafeMutableRawPointer, String) throws -> Bool) throws -> (UnsafeMutableRawPointer, String) {
        var attempts: [String] = []
        for path in candidates {
            var error = [CChar](repeating: 0, count: 512)
            guard let handle = ccuda_open(path, &error, error.count) else {
                let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                // A bare "cannot open shared object file" for a soname just means "not installed".
                attempts.append(message.contains("No such file") || message.contains("cannot open shared object")
                                ? "\(path) (not found)" : "\(path) (\(message))")
                continue
            }
            do {
                if try accept(handle, path) { return (handle, path) }
                attempts.append("\(path) (rejected)")
            } catch {
                attempts.append("\(path) (\(error))")
            }
            ccuda_close(handle)
        }
        let tried = attempts.isEmpty ? "nothing (no candidates)" : attempts.joined(separator: ", ")
        guard required else {
            // Optional libraries: name what failed to load, count the candidates that do not exist.
            let absent = attempts.filter { $0.hasSuffix("(not found)") }.count
            let failed = attempts.filter { !$0.hasSuffix("(not found)") }
            let summary = (failed + (absent > 0 ? ["\(absent) candidate path\(absent == 1 ? "" : "s") not present"] : [])).joined(separator: ", ")
            throw TensorError.deviceError("\(what) could not be loaded (\(summary.isEmpty ? "no candidates" : summary)). \(hint)")
        }
        throw TensorError.deviceError("""
            CUDA is not available: \(what) could not be loaded. \(hint)
            Tried: \(tried).
            Set TURBODIFFUSION_CUDA_LIBS or CUDA_HOME to the folder that holds it, or run with --device cpu.
            """)
    }
}

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

    static let shared: Result<CUDADriver, TensorError> = Result { try load() }.mapError { $0 as? TensorError ?? .deviceError("\($0)") }

    private static func load() throws -> CUDADriver {
        // Never the toolkit's lib64/stubs/libcuda.so: the stub loads but every call fails.
        let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
                    "/usr/local/nvidia/lib", "/usr/lib/wsl/lib", "/usr/lib/aarch64-linux-gnu"]
        let candidates = LibrarySearch.environmentDirectories().map { "\($0)/libcuda.so.1" }
            + ["libcuda.so.1"] + dirs.map { "\($0)/libcuda.so.1" }
        var table = CCUDADriverAPI()
        let (_, path) = try LibrarySearch.open("the NVIDIA driver library libcuda.so.1", candidates: candidates,
                                               hint: "Is an NVIDIA driver installed and a GPU visible to this machine?") { handle, _ in
            var missing: UnsafePointer<CChar>?
            guard ccuda_load_driver(handle, &table, &missing) == 0 else {
                throw TensorError.deviceError("symbol \(missing.map { String(cString: $0) } ?? "?") missing: driver too old")
            }
            return true
        }
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
        let result = Result { try load(maxVersion: maxVersion) }.mapError { $0 as? TensorError ?? .deviceError("\($0)") }
        cache[key] = result
        return try result.get()
    }

    /// The newest NVRTC found, limited to `maxVersion` (the driver's CUDA version): a cubin
    /// from a newer compiler does not load on an older driver.
    private static func load(maxVersion: Int?) throws -> NVRTCLibrary {
        let candidates = LibrarySearch.candidates(
            sonames: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], prefix: "libnvrtc.so",
            directories: LibrarySearch.toolkitDirectories() + LibrarySearch.pipDirectories(packages: ["cu13", "cuda_nvrtc"]))
        var table = CCUDANVRTCAPI()
        var major: Int32 = 0, minor: Int32 = 0
        let (_, path) = try LibrarySearch.open("NVRTC (libnvrtc.so)", candidates: candidates,
                                               hint: "Install the CUDA toolkit or the nvidia-cuda-nvrtc wheel.") { handle, candidate in
            var missing: UnsafePointer<CChar>?
            guard ccuda_load_nvrtc(handle, &table, &missing) == 0 else {
                throw TensorError.deviceError("symbol \(missing.map { String(cString: $0) } ?? "?") missing")
            }
            preloadBuiltins(besides: candidate)
            _ = table.nvrtcVersion(&major, &minor)
            if let maxVersion, Int(major) * 1000 + Int(minor) * 10 > maxVersion {
                throw TensorError.deviceError("NVRTC \(major).\(minor) is newer than the driver's CUDA \(maxVersion / 1000).\(maxVersion % 1000 / 10): the driver is too old for it")
            }
            return true
        }
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

    static let shared: Result<CublasLtLibrary, TensorError> = Result { try load() }.mapError { $0 as? TensorError ?? .deviceError("\($0)") }

    private static func load() throws -> CublasLtLibrary {
        let candidates = LibrarySearch.candidates(
            sonames: ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"], prefix: "libcublasLt.so",
            directories: LibrarySearch.toolkitDirectories() + LibrarySearch.pipDirectories(packages: ["cu13", "cublas"]))
        var table = CCUDACublasLtAPI()
        let (_, path) = try LibrarySearch.open("cuBLASLt (libcublasLt.so)", candidates: candidates,
                                               hint: "Install the CUDA toolkit or the nvidia-cublas wheel.") { handle, _ in
            var missing: UnsafePointer<CChar>?
            guard ccuda_load_cublaslt(handle, &table, &missing) == 0 else {
                throw TensorError.deviceError("symbol \(missing.map { String(cString: $0) } ?? "?") missing")
            }
            return true
        }
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
    var versionString: String { "\(version / 10000).\(version / 100 % 100).\(version % 100)" }

    static let shared: Result<CudnnLibrary, TensorError> = Result { try load() }.mapError { $0 as? TensorError ?? .deviceError("\($0)") }

    private static func load() throws -> CudnnLibrary {
        // The wheel's folder is nvidia/cudnn/lib; a toolkit install puts it beside libcudart.
        let candidates = LibrarySearch.candidates(
            sonames: ["libcudnn.so.9"], prefix: "libcudnn.so.9",
            directories: LibrarySearch.toolkitDirectories() + LibrarySearch.pipDirectories(packages: ["cudnn"]))
        var table = CCUDACudnnAPI()
        let (_, path) = try LibrarySearch.open("cuDNN 9 (libcudnn.so.9)", candidates: candidates,
                                               hint: "Install the nvidia-cudnn-cu13 (or -cu12) wheel or cuDNN 9, or name its folder in TURBODIFFUSION_CUDA_LIBS.",
                                               required: false) { handle, candidate in
            try openSublibraries(besides: candidate)
            var missing: UnsafePointer<CChar>?
            guard ccuda_load_cudnn(handle, &table, &missing) == 0 else {
                throw TensorError.deviceError("symbol \(missing.map { String(cString: $0) } ?? "?") missing")
            }
            let v = table.cudnnGetVersion()
            guard v / 10000 == 9 else { throw TensorError.deviceError("version \(v) is not cuDNN 9") }
            return true
        }
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
