/// A backend that can copy host tensors to its device beside its computation (CUDA: a second
/// stream), so a streamed model's next weights arrive while the current ones are used.
///
/// Ordering contract, in three calls:
/// - `reserveUpload` returns the device tensor at once. Its memory may have been freed by work
///   enqueued before the call, so its copy will begin only after that work.
/// - `startUploads` starts the reserved copies (the host side may take a while: call it after
///   enqueueing the work that should overlap them). Work enqueued between the reservation and
///   this call does not delay the copies.
/// - `awaitUploads` makes work enqueued from then on wait for every copy so far. A reserved tensor
///   must not be used before it.
public protocol AsyncUploadBackend: Backend {
    func reserveUpload(_ t: Tensor) throws -> Tensor
    func startUploads() throws
    func awaitUploads() throws
}
