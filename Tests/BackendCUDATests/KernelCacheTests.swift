import BackendCUDA
import Foundation
import Testing
import TensorCore

/// NVRTC compilation and the on-disk cubin cache. These need NVRTC only (no GPU), so they also
/// run on a machine that has the CUDA toolkit or the nvidia-cuda-nvrtc wheel but no device.
@Suite(.enabled(if: CUDATestSupport.nvrtcAvailable))
struct KernelCacheTests {
    static let probe = #"""
extern "C" __global__ void td_probe(float* out, float x) { out[threadIdx.x] = x * threadIdx.x; }
"""#

    @Test func secondCompileHitsTheDiskCache() throws {
        let dir = try CUDATestSupport.temporaryDirectory("cubin-cache")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try KernelCompiler(architecture: "sm_90", cacheDirectory: dir)
        let cubin = try first.cubin(name: "probe", source: Self.probe)
        #expect(first.compileCount == 1 && first.cacheHits == 0)
        #expect(cubin.starts(with: [0x7F, 0x45, 0x4C, 0x46]))   // an ELF image
        let path = try #require(first.cachePath(name: "probe", source: Self.probe))
        #expect(FileManager.default.fileExists(atPath: path))
        // No temporary files are left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 1)

        // A new compiler (as in a new process) finds it.
        let second = try KernelCompiler(architecture: "sm_90", cacheDirectory: dir)
        let cached = try second.cubin(name: "probe", source: Self.probe)
        #expect(second.cacheHits == 1 && second.compileCount == 0)
        #expect(cached == cubin)

        // Other options, source or architecture are other keys.
        _ = try second.cubin(name: "probe", source: Self.probe, options: ["-DVARIANT=1"])
        _ = try second.cubin(name: "probe", source: Self.probe + "\n// changed\n")
        let other = try KernelCompiler(architecture: "sm_80", cacheDirectory: dir)
        _ = try other.cubin(name: "probe", source: Self.probe)
        #expect(second.compileCount == 2 && other.compileCount == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 4)
    }

    @Test func refreshRecompilesAndRewrites() throws {
        let dir = try CUDATestSupport.temporaryDirectory("cubin-refresh")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let compiler = try KernelCompiler(architecture: "sm_90", cacheDirectory: dir)
        let path = try #require(compiler.cachePath(name: "probe", source: Self.probe))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))   // a damaged entry
        let fresh = try compiler.cubin(name: "probe", source: Self.probe, refresh: true)
        #expect(compiler.compileCount == 1)
        #expect(FileManager.default.contents(atPath: path).map { [UInt8]($0) } == fresh)
    }

    @Test func compileErrorsCarryTheLog() throws {
        let compiler = try KernelCompiler(architecture: "sm_90", cacheDirectory: nil)
        do {
            _ = try compiler.cubin(name: "broken", source: "extern \"C\" __global__ void f() { undefined_thing(); }")
            Issue.record("a broken source compiled")
        } catch let error as TensorError {
            #expect("\(error)".contains("undefined_thing"))
        }
    }

    @Test(arguments: ["sm_80", "sm_90", "sm_90a"])
    func everyBackendKernelCompiles(architecture: String) throws {
        let compiler = try KernelCompiler(architecture: architecture, cacheDirectory: nil)
        for (name, source) in KernelCompiler.backendKernelSources {
            let cubin = try compiler.cubin(name: name, source: source)
            #expect(cubin.count > 1000, "\(name) for \(architecture)")
        }
    }
}

/// The CUDA backend's use of the cache: a second backend on the same folder compiles nothing.
@Suite(.enabled(if: CUDATestSupport.available))
struct BackendKernelCacheTests {
    @Test func secondBackendLoadsCachedCubins() throws {
        let dir = try CUDATestSupport.temporaryDirectory("backend-cache")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SeededRandom(seed: 5)
        let values = rng.values(300)
        func run(_ backend: CUDABackend) throws -> [Float] {
            let x = try backend.upload(try Tensor.host(values, shape: [10, 30]))
            return try backend.toHost(try backend.softmax(try backend.unary(.tanh, x))).floats()
        }
        let first = try CUDABackend(deviceIndex: 0, kernelCacheDirectory: dir)
        let a = try run(first)
        #expect(first.compiler.compileCount == 2 && first.compiler.cacheHits == 0)
        let second = try CUDABackend(deviceIndex: 0, kernelCacheDirectory: dir)
        let b = try run(second)
        #expect(second.compiler.compileCount == 0 && second.compiler.cacheHits == 2)
        #expect(a == b)
    }
}

/// Without a GPU the backend must refuse clearly rather than crash.
@Suite(.enabled(if: !CUDATestSupport.available))
struct CUDAUnavailableTests {
    @Test func initExplainsWhy() {
        do {
            _ = try CUDABackend()
            Issue.record("CUDABackend() succeeded although the test support found no device")
        } catch {
            let message = "\(error)"
            print("CUDA unavailable: \(message)")
            #expect(message.contains("CUDA is not available") || message.contains("failed"), "\(message)")
            #expect(CUDABackend.unavailableReason != nil)
            #expect(!CUDABackend.isAvailable)
        }
    }
}
