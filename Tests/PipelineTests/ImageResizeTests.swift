import Foundation
import Testing
import TensorCore
import Checkpoints
@testable import Pipeline

/// The conditioning-image resize against torch's antialiased bilinear on uint8
/// (scripts/reference/make_image_fixtures.py).
@Suite struct ImageResizeTests {
    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        return url.path
    }

    @Test(arguments: [(16, 12), (64, 40), (10, 30), (37, 23), (5, 3)])
    func matchesTorchWithinOneLevel(_ size: (Int, Int)) throws {
        let f = try Checkpoint.open(path: Self.fixture("resize.safetensors"))
        let image = try f.tensor("image")
        let pixels = try image.floats().map { UInt8($0) }
        let ours = ImageResize.antialiasedBilinear(pixels, width: image.shape[1], height: image.shape[0],
                                                    toWidth: size.0, toHeight: size.1)
        let reference = try f.tensor("resized_\(size.0)x\(size.1)").floats().map { Int($0) }
        let diffs = zip(ours, reference).map { abs(Int($0) - $1) }
        let exact = Double(diffs.filter { $0 == 0 }.count) / Double(diffs.count)
        #expect(diffs.max()! <= 1, "max difference \(diffs.max()!) levels")
        #expect(exact >= 0.97, "only \(exact) of the values are identical")
        if size == (37, 23) { #expect(ours == pixels) }
    }

    @Test func signedPlanarLayout() {
        let rgb: [UInt8] = [0, 255, 51, 102, 153, 204]       // two pixels
        let p = ImageResize.planarSigned(rgb, width: 2, height: 1)
        func signed(_ v: Float) -> Float { (v / 255 - 0.5) / 0.5 }
        let expected: [Float] = [-1, signed(102), 1, signed(153), signed(51), signed(204)]
        #expect(p == expected)
    }
}
