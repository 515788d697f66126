import BackendCUDA
import Testing

/// Loading cuDNN needs no GPU: where the nvidia-cudnn wheel or a cuDNN 9 install is visible
/// (e.g. TURBODIFFUSION_CUDA_LIBS=…/nvidia/cudnn/lib), every entry point of the convolution
/// table must resolve; elsewhere the reason must say what was missing.
struct CudnnLibraryTests {
    @Test func loadsVersion9OrExplainsWhy() throws {
        if let version = CUDABackend.cudnnVersion {
            #expect(version.hasPrefix("9."))
            #expect(CUDABackend.cudnnUnavailableReason == nil)
        } else {
            let reason = try #require(CUDABackend.cudnnUnavailableReason)
            #expect(reason.contains("libcudnn.so.9"))
            #expect(reason.contains("TURBODIFFUSION_CUDA_LIBS"))
        }
    }
}
