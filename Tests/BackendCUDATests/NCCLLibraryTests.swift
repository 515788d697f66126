import BackendCUDA
import Testing

/// Loading NCCL needs no GPU: where the nvidia-nccl wheel or libnccl2 is visible (e.g.
/// TURBODIFFUSION_CUDA_LIBS=…/nvidia/nccl/lib), every entry point must resolve; elsewhere the reason
/// must name the library and where to get it (docs/multi-gpu.md).
struct NCCLLibraryTests {
    @Test func loadsNCCL2OrExplainsWhy() throws {
        let description = NCCLCommunicator.libraryDescription()
        if let version = NCCLCommunicator.libraryVersion {
            #expect(version.hasPrefix("2."))
            #expect(description.hasPrefix("NCCL \(version) (") && description.contains("libnccl.so.2"))
        } else {
            #expect(description.contains("NCCL (libnccl.so.2) could not be loaded"))
            #expect(description.contains("nvidia-nccl-cu13") && description.contains("TURBODIFFUSION_CUDA_LIBS"))
        }
    }

    @Test func aGroupNeedsGPUs() {
        #expect(throws: (any Error).self) { try NCCLCommunicator.group([]) }
    }
}
