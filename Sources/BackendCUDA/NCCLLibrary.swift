import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// NCCL 2 (libnccl.so.2), opened at run time for `--gpus N` (docs/multi-gpu.md): from the folders
/// the environment names, the dynamic loader, the toolkit folders and NVIDIA's nvidia-nccl-cu12/13
/// wheels (`site-packages/nvidia/nccl/lib`).
final class NCCLLibrary: @unchecked Sendable {
    let api: CCUDANCCLAPI
    let path: String
    /// e.g. 22809 for 2.28.9 (NCCL_VERSION_CODE: major·10000 + minor·100 + patch).
    let version: Int

    private init(api: CCUDANCCLAPI, path: String, version: Int) {
        self.api = api
        self.path = path
        self.version = version
    }

    /// "2.28.9".
    var versionString: String { LibrarySearch.versionString(version) }

    static let shared = LibrarySearch.once(load)

    private static func load() throws -> NCCLLibrary {
        let (table, path) = try LibrarySearch.load(
            "NCCL (libnccl.so.2)", candidates: LibrarySearch.candidates(sonames: ["libnccl.so.2"], prefix: "libnccl.so.2", pipPackages: ["nccl"]),
            hint: "Multi-GPU generation needs NCCL 2: install the nvidia-nccl-cu13 (or -cu12) wheel or the libnccl2 package, or name its folder in TURBODIFFUSION_CUDA_LIBS.",
            required: false, missingMeans: "NCCL older than 2.13", resolve: ccuda_load_nccl)
        var version: Int32 = 0
        _ = table.ncclGetVersion(&version)
        return NCCLLibrary(api: table, path: path, version: Int(version))
    }

    /// Throws unless `result` is ncclSuccess; the message carries NCCL's own last error when known.
    func check(_ result: ncclResult_t, _ function: String, comm: ncclComm_t? = nil) throws {
        guard result != 0 else { return }
        let name = api.ncclGetErrorString(result).map { String(cString: $0) } ?? "NCCL error \(result)"
        let last = api.ncclGetLastError(comm).map { String(cString: $0) } ?? ""
        throw TensorError.deviceError("\(function) failed: \(name)" + (last.isEmpty ? "" : " (\(last))"))
    }
}
