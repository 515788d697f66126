import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// Compiles CUDA C++ sources to cubins with NVRTC for one GPU architecture and keeps the
/// results in an on-disk cache keyed by SHA-256 of (source, options, NVRTC version, arch).
/// Kernels are header-free (NVRTC ships no CUDA headers), so no include paths are involved.
public final class KernelCompiler: @unchecked Sendable {
    let nvrtc: NVRTCLibrary
    /// e.g. "sm_90".
    public let architecture: String
    /// Where cubins are kept; nil disables the disk cache.
    public let cacheDirectory: String?

    private let lock = Lock()
    private var hits = 0
    private var compiles = 0

    /// Cubins loaded from the disk cache so far.
    public var cacheHits: Int { lock.withLock { hits } }
    /// Sources compiled by NVRTC so far.
    public var compileCount: Int { lock.withLock { compiles } }

    /// The NVRTC version, e.g. "13.0", and where it was loaded from.
    public var nvrtcVersion: String { "\(nvrtc.major).\(nvrtc.minor)" }
    public var nvrtcPath: String { nvrtc.path }

    /// `maxCUDAVersion`: the driver's CUDA version (cubins of a newer NVRTC would not load).
    /// `cacheDirectory`: defaults to `defaultCacheDirectory()`; pass nil for no disk cache.
    public init(architecture: String, maxCUDAVersion: Int? = nil,
                cacheDirectory: String? = KernelCompiler.defaultCacheDirectory()) throws {
        nvrtc = try NVRTCLibrary.shared(maxVersion: maxCUDAVersion)
        self.architecture = architecture
        var dir = cacheDirectory
        if let d = dir {
            do {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            } catch {
                dir = nil   // An unwritable cache only costs compile time.
            }
        }
        self.cacheDirectory = dir
    }

    /// `$TURBODIFFUSION_KERNEL_CACHE`, else `$XDG_CACHE_HOME/turbodiffusion/kernels`, else
    /// `~/.cache/turbodiffusion/kernels`.
    public static func defaultCacheDirectory() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["TURBODIFFUSION_KERNEL_CACHE"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return "\(xdg)/turbodiffusion/kernels" }
        if let home = env["HOME"], !home.isEmpty { return "\(home)/.cache/turbodiffusion/kernels" }
        return nil
    }

    /// The options every compilation gets, besides `extra`.
    func options(_ extra: [String]) -> [String] {
        ["--gpu-architecture=\(architecture)", "--std=c++17", "-default-device"] + extra
    }

    /// The cache file for a source and its options.
    public func cachePath(name: String, source: String, options extra: [String] = []) -> String? {
        guard let dir = cacheDirectory else { return nil }
        let key = ["turbodiffusion-cubin-v1", source, options(extra).joined(separator: "\u{1}"),
                   "nvrtc \(nvrtc.major).\(nvrtc.minor)", architecture].joined(separator: "\u{0}")
        let safeName = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        return "\(dir)/\(safeName)-\(architecture)-\(KernelCacheKey.hex(key).prefix(32)).cubin"
    }

    /// The cubin for `source`, from the cache when present (unless `refresh`), else compiled
    /// and stored. `name` labels the program in logs and file names.
    public func cubin(name: String, source: String, options extra: [String] = [], refresh: Bool = false) throws -> [UInt8] {
        let path = cachePath(name: name, source: source, options: extra)
        if !refresh, let path, let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            lock.withLock { hits += 1 }
            return [UInt8](data)
        }
        let binary = try compile(name: name, source: source, options: options(extra))
        lock.withLock { compiles += 1 }
        if let path { store(binary, at: path) }
        return binary
    }

    /// Writes to a temporary file in the same folder, then renames: readers never see a partial cubin.
    private func store(_ bytes: [UInt8], at path: String) {
        let tmp = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) else { return }
        if rename(tmp, path) != 0 { unlink(tmp) }
    }

    private func compile(name: String, source: String, options: [String]) throws -> [UInt8] {
        let api = nvrtc.api
        var program: nvrtcProgram?
        try nvrtc.check(api.nvrtcCreateProgram(&program, source, "\(name).cu", 0, nil, nil), "nvrtcCreateProgram")
        defer { _ = api.nvrtcDestroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let status = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { opts in
            api.nvrtcCompileProgram(program, Int32(opts.count), opts.baseAddress)
        }
        if status != 0 {
            throw TensorError.deviceError("""
                nvrtcCompileProgram failed for \(name) (\(options.joined(separator: " "))): \
                \(api.nvrtcGetErrorString(status).map { String(cString: $0) } ?? "error \(status)")
                \(log(program))
                """)
        }
        var size = 0
        try nvrtc.check(api.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize")
        guard size > 0 else { throw TensorError.deviceError("NVRTC produced an empty cubin for \(name)") }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytes { raw in
            try nvrtc.check(api.nvrtcGetCUBIN(program, raw.baseAddress!.assumingMemoryBound(to: CChar.self)), "nvrtcGetCUBIN")
        }
        return bytes
    }

    private func log(_ program: nvrtcProgram?) -> String {
        var size = 0
        guard nvrtc.api.nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "" }
        var text = [CChar](repeating: 0, count: size)
        guard nvrtc.api.nvrtcGetProgramLog(program, &text) == 0 else { return "" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
