/// Which of the CUDA backend's kernel choices run. A kernel that replaces a correct one lands as a
/// candidate: its code is built and compile-checked with the rest, but the engine launches it only
/// when asked, until the op catalogue has passed with it on a GPU
/// (`turbodiffusion test-backend --device cuda --cuda-kernels candidate`) and a benchmark in the same
/// device call showed it faster (`bench dit --compare-kernels`); then it
/// moves into `standard` and its switch goes.
public enum CUDAKernelSet: String, Sendable, CaseIterable {
    /// Only kernels that passed the op catalogue on a GPU.
    case standard
    /// The standard kernels, and these awaiting their first GPU run:
    /// - W8A8 products on Hopper in 192 × 128 tiles (`td_w8a8_gemm_wgmma192`, x quantised straight into
    ///   swizzled tiles, the weight tiled per call) wherever its 161 KiB of shared memory may be used;
    /// - row norms (layerNorm, rmsNorm, rmsNormRotary, modulatedLayerNorm) of at most
    ///   `CUDABackend.warpRowUnits` groups of 4 normalised by one warp per row instead of a block.
    case candidate
}
