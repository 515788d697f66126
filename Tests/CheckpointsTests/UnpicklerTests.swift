import Foundation
import Testing
@testable import Checkpoints

private func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
    try bytes.withUnsafeBytes { raw in
        var u = Unpickler(ByteView(bytes: raw, name: "test.pkl")) { TorchGlobals.isAllowed(module: $0, name: $1) }
        return try u.load()
    }
}

private func unpickleError(_ bytes: [UInt8]) -> CheckpointError? {
    do {
        _ = try unpickle(bytes)
        return nil
    } catch {
        return error as? CheckpointError
    }
}

private func ints(_ v: PickleValue) -> [Int]? {
    switch v {
    case .tuple(let items): items.compactMap { if case .int(let n) = $0 { n } else { nil } }
    case .list(let l): l.items.compactMap { if case .int(let n) = $0 { n } else { nil } }
    default: nil
    }
}

@Suite struct UnpicklerTests {
    @Test func protocol4FramesMemoizeAndShortStrings() throws {
        // {'a': 1, 'b': 256, 'c': 'a'(memo 1)} with FRAME, MEMOIZE and SHORT_BINUNICODE.
        let bytes: [UInt8] = [0x80, 4, 0x95] + [UInt8](repeating: 0, count: 8)
            + [0x7D, 0x94, 0x28, 0x8C, 1, 0x61, 0x94, 0x4B, 1, 0x8C, 1, 0x62, 0x94, 0x4D, 0, 1,
               0x8C, 1, 0x63, 0x94, 0x68, 1, 0x75, 0x2E]
        guard case .dict(let d) = try unpickle(bytes) else { Issue.record("not a dict"); return }
        guard case .int(1)? = d["a"], case .int(256)? = d["b"], case .string("a")? = d["c"] else {
            Issue.record("wrong values"); return
        }
    }

    @Test func integersOfEveryWidth() throws {
        var p = PickleBuilder(protocol: 2)
        p.op(0x28)
        p.op(0x4A); p.bytes += le32(-5)  // BININT
        p.op(0x8A, 1, 0xFF)  // LONG1 -1
        p.op(0x8A, 0)  // LONG1 0
        p.op(0x8A, 8, 0, 0, 0, 0, 0, 0, 0, 0x80)  // LONG1 Int.min
        p.op(0x8A, 9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)  // LONG1 -1 in 9 bytes
        p.op(0x8B); p.bytes += le32(2) + [0x34, 0x12]  // LONG4 0x1234
        p.op(0x74, 0x2E)
        #expect(ints(try unpickle(p.bytes)) == [-5, -1, 0, Int.min, -1, 0x1234])
        // A value beyond 64 bits is kept as bigInt, not wrapped.
        guard case .bigInt(9) = try unpickle([0x80, 2, 0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0x2E]) else {
            Issue.record("2^63 should not fit"); return
        }
    }

    @Test func floatsStringsAndBytes() throws {
        var p = PickleBuilder()
        p.op(0x28, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0)  // BINFLOAT 1.5
        p.op(0x8D); p.bytes += [2, 0, 0, 0, 0, 0, 0, 0] + Array("hi".utf8)  // BINUNICODE8
        p.op(0x43, 2, 1, 2)  // SHORT_BINBYTES
        p.op(0x8E); p.bytes += [1, 0, 0, 0, 0, 0, 0, 0, 9]  // BINBYTES8
        p.op(0x55, 3); p.bytes += Array("abc".utf8)  // SHORT_BINSTRING
        p.op(0x54); p.bytes += le32(1) + [0x7A]  // BINSTRING
        p.op(0x4E, 0x88, 0x89)  // None, True, False
        p.op(0x74, 0x2E)
        guard case .tuple(let t) = try unpickle(p.bytes), t.count == 9 else { Issue.record("bad tuple"); return }
        guard case .float(1.5) = t[0], case .string("hi") = t[1], case .bytes([1, 2]) = t[2], case .bytes([9]) = t[3],
              case .string("abc") = t[4], case .string("z") = t[5], case .none = t[6], case .bool(true) = t[7], case .bool(false) = t[8] else {
            Issue.record("wrong values \(t.map(\.typeName))"); return
        }
    }

    @Test func containersAndStackOpcodes() throws {
        var p = PickleBuilder()
        p.op(0x28)  // MARK for the outer tuple
        p.op(0x5D, 0x4B, 1, 0x61, 0x28, 0x4B, 2, 0x4B, 3, 0x65)  // [1] + APPENDS [2, 3]
        p.op(0x28, 0x4B, 4, 0x4B, 5, 0x6C)  // LIST [4, 5]
        p.op(0x4B, 6, 0x85, 0x4B, 7, 0x4B, 8, 0x86, 0x4B, 9, 0x4B, 10, 0x4B, 11, 0x87)  // TUPLE1/2/3
        p.op(0x28, 0x4B, 1, 0x4B, 2, 0x64)  // DICT {1: 2}
        p.op(0x4B, 99, 0x30)  // push then POP
        p.op(0x28, 0x4B, 98, 0x31)  // MARK, push, POP_MARK
        p.op(0x4B, 12, 0x32)  // DUP
        p.op(0x74, 0x2E)
        guard case .tuple(let t) = try unpickle(p.bytes) else { Issue.record("not a tuple"); return }
        #expect(t.count == 8)
        #expect(ints(t[0]) == [1, 2, 3])
        #expect(ints(t[1]) == [4, 5])
        #expect(ints(t[2]) == [6] && ints(t[3]) == [7, 8] && ints(t[4]) == [9, 10, 11])
        guard case .dict(let d) = t[5], d.count == 1 else { Issue.record("dict"); return }
        guard case .int(12) = t[6], case .int(12) = t[7] else { Issue.record("DUP"); return }
    }

    @Test func orderedDictViaNewObjAndBuildIsIgnored() throws {
        var p = PickleBuilder()
        p.global("collections", "OrderedDict")
        p.op(0x29, 0x81)  // EMPTY_TUPLE, NEWOBJ
        p.string("k"); p.op(0x4B, 3, 0x73)  // SETITEM
        p.op(0x7D); p.string("_metadata"); p.op(0x7D, 0x73)  // state {'_metadata': {}}
        p.op(0x62, 0x2E)  // BUILD, STOP
        guard case .dict(let d) = try unpickle(p.bytes), case .int(3)? = d["k"], d.count == 1 else {
            Issue.record("OrderedDict with BUILD state not read"); return
        }
    }

    @Test func mutationsAreVisibleThroughTheMemo() throws {
        // l = []; memo[0] = l; (l, l) ... then append to memo[0]: both tuple slots see it.
        var p = PickleBuilder()
        p.op(0x5D, 0x71, 0, 0x68, 0, 0x86, 0x71, 1, 0x30)  // [] put0, get0, TUPLE2 put1, POP
        p.op(0x68, 0, 0x4B, 5, 0x61, 0x30)  // get0, APPEND 5, POP
        p.op(0x68, 1, 0x2E)  // get1 STOP
        guard case .tuple(let t) = try unpickle(p.bytes), t.count == 2 else { Issue.record("bad"); return }
        #expect(ints(t[0]) == [5] && ints(t[1]) == [5])
    }

    @Test func refusesEveryGlobalOutsideTheAllowlist() {
        let forbidden: [(String, String)] = [
            ("posix", "system"), ("os", "system"), ("builtins", "eval"), ("builtins", "getattr"),
            ("subprocess", "Popen"), ("torch", "load"), ("torch._utils", "_rebuild_tensor"),
            ("collections", "defaultdict"), ("numpy.core.multiarray", "_reconstruct"),
        ]
        for (m, n) in forbidden {
            var p = PickleBuilder()
            p.global(m, n)
            p.op(0x2E)
            let e = unpickleError(p.bytes)
            #expect(e?.kind == .refused, "\(m).\(n)")
            #expect(e?.message.hasPrefix("refusing to load: the pickle asks for global '\(m).\(n)'") == true)
            #expect(e?.message.hasSuffix("nothing was executed") == true)
        }
        // INST and STACK_GLOBAL go through the same check.
        #expect(unpickleError([0x80, 2, 0x28] + Array("isubprocess\nPopen\n".utf8) + [0x2E])?.message.contains("'subprocess.Popen'") == true)
        #expect(unpickleError([0x80, 4, 0x8C, 2] + Array("os".utf8) + [0x8C, 6] + Array("system".utf8) + [0x93, 0x2E])?.kind == .refused)
        #expect(unpickleError([0x80, 2, 0x82, 7, 0x2E])?.kind == .refused)  // EXT1
    }

    @Test func allowlistedNamesPass() throws {
        for (m, n) in [("torch", "FloatStorage"), ("torch", "BFloat16Storage"), ("torch", "Float8_e4m3fnStorage"),
                       ("torch", "float8_e4m3fn"), ("torch.storage", "UntypedStorage"),
                       ("torch._utils", "_rebuild_parameter_with_state"), ("torch", "DoubleStorage")] {
            var p = PickleBuilder()
            p.global(m, n)
            p.op(0x2E)
            guard case .global(m, n) = try unpickle(p.bytes) else { Issue.record("\(m).\(n)"); continue }
        }
    }

    @Test func malformedPicklesGiveErrorsNamingThePlace() {
        let unknown = unpickleError([0x80, 2, 0x4B, 1, 0xFF, 0x2E])
        #expect(unknown?.kind == .corrupt)
        #expect(unknown?.message.contains("opcode 0xFF") == true && unknown?.message.contains("at byte 4") == true)
        #expect(unpickleError([0x80, 2, 0x4B, 1])?.kind == .truncated)  // no STOP
        #expect(unpickleError([0x80, 2, 0x58, 9, 0, 0, 0, 0x61])?.kind == .truncated)  // string runs past the end
        #expect(unpickleError([0x80, 2, 0x68, 3, 0x2E])?.message.contains("BINGET at byte 2 fetches memo index 3") == true)
        #expect(unpickleError([0x80, 2, 0x7D, 0x75, 0x2E])?.message.contains("MARK") == true)  // SETITEMS without MARK
        #expect(unpickleError([0x80, 2, 0x2E])?.kind == .corrupt)  // STOP on an empty stack
        #expect(unpickleError([0x80, 9, 0x2E])?.kind == .unsupported)  // protocol 9
        #expect(unpickleError([0x80, 2, 0x4B, 1, 0x29, 0x52, 0x2E])?.message.contains("not to a class") == true)  // REDUCE on int
        #expect(unpickleError([0x80, 2, 0x8C, 2, 0xC3, 0x28, 0x2E])?.message.contains("UTF-8") == true)
        #expect(unpickleError([0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])?.message.contains("negative length") == true)
        #expect(unpickleError([0x80, 2, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) != nil)
        #expect(unpickleError([0x80, 2, 0x97, 0x2E])?.kind == .unsupported)  // NEXT_BUFFER
    }
}

@Suite struct UnpicklerDepthTests {
    @Test func deeplyNestedTuplesAreRefused() {
        // K 1, then TUPLE1 × 100 000: would recurse 100 000 levels when released.
        let bytes: [UInt8] = [0x80, 2, 0x4B, 1] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E]
        let e = bytes.withUnsafeBytes { raw -> CheckpointError? in
            var u = Unpickler(ByteView(bytes: raw, name: "deep")) { _, _ in false }
            defer { u.dismantle() }
            do { _ = try u.load(); return nil } catch { return error as? CheckpointError }
        }
        #expect(e?.message.contains("more than 200 levels") == true)
    }

    @Test func longChainsOfListsAreReleasedWithoutRecursion() throws {
        // l0 = []; then 100 000 times: new = []; new.append(prev); prev = new. Each list holds
        // the one made before it, so the last one heads a chain 100 000 deep: released naively
        // (children created before parents) that recurses once per level and overflows the stack.
        var bytes: [UInt8] = [0x80, 2, 0x5D]  // [l0]
        for _ in 0 ..< 100_000 {
            // [prev] → BINPUT 1, POP, EMPTY_LIST, BINGET 1 → [new, prev] → APPEND → [new]
            bytes += [0x71, 1, 0x30, 0x5D, 0x68, 1, 0x61]
        }
        bytes += [0x2E]
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(ByteView(bytes: raw, name: "chain")) { _, _ in false }
            defer { u.dismantle() }
            guard case .list(let head) = try u.load() else { Issue.record("not a list"); return }
            #expect(head.items.count == 1)
        }
    }
}
