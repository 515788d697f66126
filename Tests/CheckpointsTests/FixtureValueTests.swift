import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Every tensor of every described fixture must match expected.json exactly.
@Suite struct FixtureValueTests {
    static let described = ["all_dtypes.pth", "all_dtypes.safetensors", "views.pth", "cuda_tagged.pth",
                            "module_state.pth", "unusual_prefix.pth", "zip64.pth", "nested.pth",
                            "sharded/model.safetensors.index.json"]

    @Test func expectedListsEveryDescribedFixture() {
        #expect(Set(Fixtures.expected.map(\.fixture)) == Set(Self.described))
    }

    @Test(arguments: described)
    func tensorsMatchExpected(_ fixture: String) throws {
        let c = try Checkpoint.open(path: Fixtures.path(fixture))
        let expected = Fixtures.expectedTensors(fixture)
        #expect(!expected.isEmpty)
        #expect(c.names == expected.map(\.name), "\(fixture) order")
        for (actual, e) in zip(c.tensors, expected) {
            try expectMatches(actual, e, fixture: fixture)
        }
    }

    @Test func formatsAreRecognisedByContent() throws {
        #expect(try Checkpoint.open(path: Fixtures.path("all_dtypes.pth")).format == .pytorch)
        #expect(try Checkpoint.open(path: Fixtures.path("all_dtypes.safetensors")).format == .safetensors)
        #expect(try Checkpoint.open(path: Fixtures.path("sharded/model.safetensors.index.json")).format == .shardedSafetensors)
        // A directory holding one index opens the index.
        let dir = try Checkpoint.open(path: Fixtures.path("sharded"))
        #expect(dir.format == .shardedSafetensors)
        #expect(dir.files.count == 3)
        // A .pth copied under a misleading name is still read as a torch archive.
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let renamed = try writeTemporary(try Fixtures.bytes("views.pth"), name: "weights.safetensors", in: tmp)
        #expect(try Checkpoint.open(path: renamed).format == .pytorch)
    }

    @Test func safetensorsMetadataAndLookups() throws {
        let c = try Checkpoint.open(path: Fixtures.path("all_dtypes.safetensors"))
        #expect(c.metadata.map(\.key) == ["format", "producer"])
        #expect(c.metadata.first?.value == "pt")
        #expect(c["t_i8"]?.shape == [5])
        #expect(c["missing"] == nil)
        #expect(throws: CheckpointError.self) { try c.tensor("missing") }
        #expect(c.parameterCount == 47)
        #expect(c.tensorBytes == 132)
    }

    @Test func nestedDictsAreFlattenedAndNoted() throws {
        let c = try Checkpoint.open(path: Fixtures.path("nested.pth"))
        #expect(c.names == ["model.layer.weight", "model.layer.bias", "ema.inner.w"])
        #expect(c.notes.contains { $0.contains("flattened") && $0.contains("model") })
        #expect(c.notes.contains { $0.contains("step (int)") && $0.contains("name (str)") })
    }

    @Test func deviceTagsAreAcceptedAndNoted() throws {
        let c = try Checkpoint.open(path: Fixtures.path("cuda_tagged.pth"))
        #expect(c.tensors.allSatisfy { $0.tensor.device == .cpu })
        #expect(c.notes.contains { $0.contains("cuda:0") })
    }

    @Test func unusualPrefixIsFound() throws {
        let c = try Checkpoint.open(path: Fixtures.path("unusual_prefix.pth"))
        #expect(c.notes.contains { $0.contains("'my model.v2/inner/'") })
    }
}
