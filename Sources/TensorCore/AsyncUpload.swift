/// A backend that can copy host tensors to its device beside its computation (CUDA: a second
/// stream), so a streamed model's next weights arrive while the current ones are used.
///
/// Ordering contract: a copy started by `uploadBeside` begins only after all work enqueued before
/// the call (its destination may be memory that work's freed tensors used); work enqueued after
/// `awaitUploads()` sees every copy started before it. A tensor from `uploadBeside` must not be
/// used before `awaitUploads()`.
public protocol AsyncUploadBackend: Backend {
    /// Starts copying host tensor `t` to this device; returns the (not yet filled) device tensor.
    func uploadBeside(_ t: Tensor) throws -> Tensor
    /// Makes work enqueued from now on wait for every copy started so far.
    func awaitUploads() throws
}
