import CCUDA
import TensorCore

extension CUDABackend {
    /// CUDA devices the driver reports (0 when it loads but sees none). Throws when the driver
    /// library cannot be loaded or initialised, saying why.
    public static func deviceCount() throws -> Int {
        let driver = try CUDADriver.shared.get()
        let status = driver.api.cuInit(0)
        if status == CUresult(CCUDA_ERROR_NO_DEVICE) { return 0 }
        try driver.check(status, "cuInit")
        var count: Int32 = 0
        try driver.check(driver.api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }
}
