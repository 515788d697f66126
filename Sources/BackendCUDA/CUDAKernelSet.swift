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
    /// - row norms of up to `CUDABackend.candidateWarpRowUnits` groups of 4 (the 14B's 5 120-wide rows)
    ///   normalised by one warp per row, uncached, instead of a block;
    /// - rmsNormRotary with its in-row index arithmetic in 32 bits (`td_rms_norm_rotary_u32`: a 32-bit
    ///   remainder per rotated pair instead of the 64-bit division routine).
    case candidate
}
