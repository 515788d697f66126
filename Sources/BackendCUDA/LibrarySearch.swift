import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
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

/// The entry points of one library, filled by its `ccuda_load_*` function (ccuda.h); `init()` is
/// the all-null table C gives every imported struct.
protocol EntryPointTable { init() }

extension CCUDADriverAPI: EntryPointTable {}
extension CCUDANVRTCAPI: EntryPointTable {}
extension CCUDACublasLtAPI: EntryPointTable {}
extension CCUDACudnnAPI: EntryPointTable {}
extension CCUDANCCLAPI: EntryPointTable {}

extension LibrarySearch {
    /// `candidates` over the toolkit folders and the `nvidia/<package>/lib` folders of the pip wheels.
    static func candidates(sonames: [String], prefix: String, pipPackages: [String]) -> [String] {
        candidates(sonames: sonames, prefix: prefix, directories: toolkitDirectories() + pipDirectories(packages: pipPackages))
    }

    /// `open` for a library whose entry points `resolve` (its `ccuda_load_*`) collects into a table:
    /// per candidate `prepare(path)`, then every symbol (a missing one rejects the candidate with
    /// its name and `missingMeans`, e.g. "driver too old"), then `accept(table, path)`, which throws
    /// to reject it. -> the table and the path of the library that passed.
    static func load<Table: EntryPointTable>(
        _ what: String, candidates: [String], hint: String, required: Bool = true, missingMeans: String? = nil,
        resolve: (UnsafeMutableRawPointer?, UnsafeMutablePointer<Table>?, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32,
        prepare: (String) throws -> Void = { _ in }, accept: (Table, String) throws -> Void = { _, _ in }
    ) throws -> (table: Table, path: String) {
        var table = Table()
        let (_, path) = try open(what, candidates: candidates, hint: hint, required: required) { handle, candidate in
            try prepare(candidate)
            var missing: UnsafePointer<CChar>?
            guard resolve(handle, &table, &missing) == 0 else {
                throw TensorError.deviceError("symbol \(missing.map { String(cString: $0) } ?? "?") missing" + (missingMeans.map { ": \($0)" } ?? ""))
            }
            try accept(table, candidate)
            return true
        }
        return (table, path)
    }

    /// A library's load as `static let shared` keeps it: tried once per process, any error a `TensorError`.
    static func once<Library>(_ load: () throws -> Library) -> Result<Library, TensorError> {
        Result { try load() }.mapError { $0 as? TensorError ?? .deviceError("\($0)") }
    }

    /// "9.28.1" for a version code major·10000 + minor·100 + patch (cuDNN's and NCCL's).
    static func versionString(_ code: Int) -> String { "\(code / 10000).\(code / 100 % 100).\(code % 100)" }
}
