/// A restricted pickle machine (protocols 0–5, the subset a state dict can contain).
///
/// It only builds `PickleValue` trees: GLOBAL names are checked against an allowlist before
/// anything else happens, REDUCE/NEWOBJ/BUILD merely record what would have been called, and
/// the only global it interprets itself is `collections.OrderedDict` (an empty container).
/// Every read is bounds-checked; every malformed input ends in a thrown `CheckpointError`
/// naming the opcode and its byte offset.
///
/// Structure is validated as CPython's unpickler validates it (and, where CPython is lax about
/// what it never writes, as `pickletools` does): a FRAME must fit in the remaining data and may
/// not begin before the previous frame ends; no opcode or argument may straddle a frame's end;
/// memo indices stay within what the pickle's size allows and a fetched index must have been
/// stored; no opcode pops below the innermost MARK; STOP leaves exactly its result and no open
/// MARK; persistent ids must have the form torch writes (`persistentIDProblem`).
struct Unpickler {
    private let data: ByteView
    private let isAllowed: (String, String) -> Bool
    private let persistentIDProblem: (PickleValue) -> String?
    private var pos = 0
    /// The opcode being run and its offset (for errors raised while reading its arguments).
    private var op: UInt8 = 0
    private var opAt = 0
    /// Where the current frame ends (nil outside frames) and where it began.
    private var frameEnd: Int?
    private var frameStart = 0
    private var stack: [Item] = []
    private var marks: [Int] = []
    private var memo: [Int: Item] = [:]
    /// Every list, dict and call created, kept alive until `dismantle()`.
    private let arena = PickleArena()

    /// A stack value with its nesting depth through value types (tuples, persistent ids).
    /// Class containers count as depth 0: `dismantle()` cuts them apart before release.
    private struct Item {
        let value: PickleValue
        let depth: Int
    }

    /// Deeper value nesting is refused: releasing it would recurse once per level.
    static let maxDepth = 200

    /// `isAllowed(module, name)` decides which globals may appear at all; `persistentIDProblem`
    /// says what is wrong with a persistent id (nil: acceptable).
    init(_ data: ByteView, persistentIDProblem: @escaping (PickleValue) -> String? = TorchGlobals.persistentIDProblem,
         isAllowed: @escaping (String, String) -> Bool) {
        self.data = data
        self.isAllowed = isAllowed
        self.persistentIDProblem = persistentIDProblem
    }

    /// Runs the machine to STOP and returns the top value.
    mutating func load() throws -> PickleValue {
        while true {
            let at = pos
            if let end = frameEnd, pos == end { frameEnd = nil }   // the frame is used up; what follows is unframed
            guard pos < data.count else {
                throw fail(.truncated, "truncated: the pickle ends at byte \(pos) without a STOP opcode")
            }
            let op = data.bytes[pos]
            (self.op, opAt) = (op, at)
            pos += 1
            if op == 0x2E {  // STOP
                let result = try pop(op, at)
                guard marks.isEmpty, stack.isEmpty else {
                    throw fail(.corrupt, "malformed pickle: STOP at byte \(at) leaves \(marks.count) open MARK(s) and \(stack.count) value(s) besides its result")
                }
                return result
            }
            try step(op, at)
        }
    }

    /// Empties every container the machine built, so that dropping the tree afterwards never
    /// recurses deeply (hostile pickles can chain millions of lists). Call it when done with
    /// the values (also after errors); values taken out earlier stay valid but lose contents.
    mutating func dismantle() {
        stack.removeAll()
        memo.removeAll()
        arena.dismantle()
    }

    // MARK: Opcodes

    private mutating func step(_ op: UInt8, _ at: Int) throws {
        switch op {
        case 0x80:  // PROTO
            let v = try readByte()
            guard v <= 5 else { throw fail(.unsupported, "pickle protocol \(v) (at byte \(at)) is newer than 5") }
        case 0x95:  // FRAME: the next `length` bytes hold whole opcodes
            let length = try readInt(8, at)
            if let end = frameEnd, pos < end {
                throw fail(.corrupt, "malformed pickle: FRAME at byte \(at) begins before the frame started at byte \(frameStart) ends (at byte \(end))")
            }
            guard length <= data.count - pos else {
                throw fail(.truncated, "truncated: FRAME at byte \(at) announces \(length) bytes but only \(data.count - pos) remain")
            }
            (frameStart, frameEnd) = (at, pos + length)
        case 0x28: marks.append(stack.count)  // MARK
        case 0x29: try push(.tuple([]), depth: 1)  // EMPTY_TUPLE
        case 0x5D, 0x8F: try push(.list(arena.list()))  // EMPTY_LIST, EMPTY_SET (a set is kept as a list)
        case 0x7D: try push(.dict(arena.dict()))  // EMPTY_DICT
        case 0x74: try pushTuple(try popMark(op, at))  // TUPLE
        case 0x85, 0x86, 0x87:  // TUPLE1/2/3
            let n = Int(op - 0x84)
            guard stack.count - n >= (marks.last ?? 0) else { throw underflow(op, at, n) }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            try pushTuple(items)
        case 0x6C, 0x91: try push(.list(arena.list(try popMarkValues(op, at))))  // LIST, FROZENSET
        case 0x64:  // DICT
            let items = try popMarkValues(op, at)
            try push(.dict(try makeDict(items, op, at)))
        case 0x61:  // APPEND
            let v = try pop(op, at)
            try topList(op, at).items.append(v)
        case 0x65, 0x90:  // APPENDS, ADDITEMS
            let items = try popMarkValues(op, at)
            try topList(op, at).items.append(contentsOf: items)
        case 0x73:  // SETITEM
            let v = try pop(op, at)
            let k = try pop(op, at)
            try topDict(op, at).set(k, v)
        case 0x75:  // SETITEMS
            let items = try popMarkValues(op, at)
            guard items.count % 2 == 0 else { throw fail(.corrupt, "SETITEMS at byte \(at) has an odd number (\(items.count)) of keys and values") }
            let d = try topDict(op, at)
            for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try readInt(4, at)))))  // BININT
        case 0x4B: try push(.int(Int(try readByte())))  // BININT1
        case 0x4D: try push(.int(try readInt(2, at)))  // BININT2
        case 0x8A: try push(try readLong(count: Int(try readByte()), at))  // LONG1
        case 0x8B:  // LONG4
            let n = Int32(truncatingIfNeeded: try readInt(4, at))
            guard n >= 0 else { throw fail(.corrupt, "LONG4 at byte \(at) has negative length \(n)") }
            try push(try readLong(count: Int(n), at))
        case 0x47:  // BINFLOAT: big-endian IEEE double
            let b = try readBytes(8, at)
            try push(.float(Double(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
        case 0x49:  // INT (text): "01"/"00" are protocol-0 booleans
            let line = try readLine(at)
            if line == "01" { try push(.bool(true)) } else if line == "00" { try push(.bool(false)) } else {
                guard let v = Int(line) else { throw fail(.corrupt, "INT at byte \(at) is not an integer: '\(clip(line))'") }
                try push(.int(v))
            }
        case 0x4C:  // LONG (text), with an optional trailing L
            let line = try readLine(at)
            guard let v = Int(line.hasSuffix("L") ? String(line.dropLast()) : line) else {
                throw fail(.corrupt, "LONG at byte \(at) is not a 64-bit integer: '\(clip(line))'")
            }
            try push(.int(v))
        case 0x46:  // FLOAT (text)
            let line = try readLine(at)
            guard let v = Double(line) else { throw fail(.corrupt, "FLOAT at byte \(at) is not a number: '\(clip(line))'") }
            try push(.float(v))
        case 0x4E: try push(.none)  // NONE
        case 0x88: try push(.bool(true))  // NEWTRUE
        case 0x89: try push(.bool(false))  // NEWFALSE
        case 0x58: try push(.string(try readString(count: try readInt(4, at), at)))  // BINUNICODE
        case 0x8C: try push(.string(try readString(count: Int(try readByte()), at)))  // SHORT_BINUNICODE
        case 0x8D: try push(.string(try readString(count: try readInt(8, at), at)))  // BINUNICODE8
        case 0x54:  // BINSTRING (signed 4-byte length); torch.load decodes py2 strings as UTF-8
            let n = Int32(truncatingIfNeeded: try readInt(4, at))
            guard n >= 0 else { throw fail(.corrupt, "BINSTRING at byte \(at) has negative length \(n)") }
            try push(.string(try readString(count: Int(n), at)))
        case 0x55: try push(.string(try readString(count: Int(try readByte()), at)))  // SHORT_BINSTRING
        case 0x42: try push(.bytes(try readBytes(try readInt(4, at), at)))  // BINBYTES
        case 0x43: try push(.bytes(try readBytes(Int(try readByte()), at)))  // SHORT_BINBYTES
        case 0x8E, 0x96: try push(.bytes(try readBytes(try readInt(8, at), at)))  // BINBYTES8, BYTEARRAY8
        case 0x63:  // GLOBAL: "module\nname\n"
            let module = try readLine(at)
            let name = try readLine(at)
            try push(try global(module, name, at))
        case 0x93:  // STACK_GLOBAL
            let name = try pop(op, at)
            let module = try pop(op, at)
            guard case .string(let m) = module, case .string(let n) = name else {
                throw fail(.corrupt, "STACK_GLOBAL at byte \(at) needs two strings, found \(module.typeName) and \(name.typeName)")
            }
            try push(try global(m, n, at))
        case 0x69:  // INST: "module\nname\n", arguments since MARK
            let module = try readLine(at)
            let name = try readLine(at)
            let callable = try global(module, name, at)
            let args = try popMarkValues(op, at)
            try push(try call(callable, args, at))
        case 0x6F:  // OBJ: class and arguments since MARK
            let items = try popMarkValues(op, at)
            guard let cls = items.first else { throw underflow(op, at, 1) }
            try push(try call(cls, Array(items.dropFirst()), at))
        case 0x52, 0x81:  // REDUCE, NEWOBJ: callable/class, then an argument tuple
            let args = try pop(op, at)
            let callable = try pop(op, at)
            guard case .tuple(let a) = args else {
                throw fail(.corrupt, "\(opName(op)) at byte \(at) needs an argument tuple, found \(args.typeName)")
            }
            try push(try call(callable, a, at))
        case 0x92:  // NEWOBJ_EX: class, args, kwargs (must be empty)
            let kwargs = try pop(op, at)
            let args = try pop(op, at)
            let cls = try pop(op, at)
            guard case .tuple(let a) = args, case .dict(let k) = kwargs, k.count == 0 else {
                throw fail(.corrupt, "NEWOBJ_EX at byte \(at) needs a tuple and an empty dict")
            }
            try push(try call(cls, a, at))
        case 0x62:  // BUILD: applies state to the object below it
            let state = try pop(op, at)
            guard let target = stack.last?.value, stack.count > (marks.last ?? 0) else { throw underflow(op, at, 2) }
            switch target {
            case .dict: break  // OrderedDict attributes (`_metadata` of a state dict): ignored
            case .reduced(let c): c.state = state
            default: throw fail(.corrupt, "BUILD at byte \(at) applies state to a \(target.typeName)")
            }
        case 0x71: try put(Int(try readByte()), op, at)  // BINPUT
        case 0x72: try put(try readInt(4, at), op, at)  // LONG_BINPUT
        case 0x94: try put(memo.count, op, at)  // MEMOIZE
        case 0x70:  // PUT (text)
            let line = try readLine(at)
            guard let i = Int(line) else { throw fail(.corrupt, "PUT at byte \(at) has a bad index '\(clip(line))'") }
            try put(i, op, at)
        case 0x68: try get(Int(try readByte()), at)  // BINGET
        case 0x6A: try get(try readInt(4, at), at)  // LONG_BINGET
        case 0x67:  // GET (text)
            let line = try readLine(at)
            guard let i = Int(line) else { throw fail(.corrupt, "GET at byte \(at) has a bad index '\(clip(line))'") }
            try get(i, at)
        case 0x51:  // BINPERSID
            guard stack.count > (marks.last ?? 0), let pid = stack.popLast() else { throw underflow(op, at, 1) }
            if let problem = persistentIDProblem(pid.value) {
                throw fail(.corrupt, "BINPERSID at byte \(at): \(problem)")
            }
            try push(.persistent(pid.value), depth: pid.depth + 1)
        case 0x50:  // PERSID (text)
            let id = PickleValue.string(try readLine(at))
            if let problem = persistentIDProblem(id) { throw fail(.corrupt, "PERSID at byte \(at): \(problem)") }
            try push(.persistent(id))
        case 0x30:  // POP (pops a mark when the stack above it is empty, as CPython does)
            if stack.count > (marks.last ?? 0) { stack.removeLast() } else { _ = try popMark(op, at) }
        case 0x31: _ = try popMark(op, at)  // POP_MARK
        case 0x32:  // DUP
            guard stack.count > (marks.last ?? 0), let top = stack.last else { throw underflow(op, at, 1) }
            try push(top.value, depth: top.depth)
        case 0x82, 0x83, 0x84:  // EXT1/2/4
            let code = try readInt(op == 0x82 ? 1 : op == 0x83 ? 2 : 4, at)
            throw fail(.refused, "refusing to load: the pickle asks for copyreg extension code \(code) (opcode \(opName(op)) at byte \(at)), which a state dict never contains; nothing was executed")
        case 0x97, 0x98:
            throw fail(.unsupported, "the pickle uses out-of-band buffers (opcode 0x\(hexByte(op)) at byte \(at)), which torch.save never writes")
        default:
            throw fail(.corrupt, "unknown or unsupported pickle opcode 0x\(hexByte(op))\(printable(op)) at byte \(at) of \(data.name)")
        }
    }

    // MARK: Globals and calls

    private func global(_ module: String, _ name: String, _ at: Int) throws -> PickleValue {
        guard isAllowed(module, name) else {
            throw fail(.refused, "refusing to load: the pickle asks for global '\(clip(module)).\(clip(name))' (at byte \(at) of \(data.name)), which a state dict never contains; nothing was executed")
        }
        return .global(module: module, name: name)
    }

    private func call(_ callable: PickleValue, _ args: [PickleValue], _ at: Int) throws -> PickleValue {
        guard case .global(let module, let name) = callable else {
            throw fail(.corrupt, "a call at byte \(at) applies to a \(callable.typeName), not to a class or function")
        }
        if module == "collections", name == "OrderedDict" {
            let d = arena.dict()
            if let first = args.first {
                // OrderedDict(iterable_of_pairs) — not what torch writes, but cheap to honour.
                guard args.count == 1, case .list(let pairs) = first else {
                    throw fail(.corrupt, "OrderedDict at byte \(at) called with unexpected arguments")
                }
                for p in pairs.items {
                    guard case .tuple(let kv) = p, kv.count == 2 else {
                        throw fail(.corrupt, "OrderedDict at byte \(at) given an item that is not a pair")
                    }
                    d.set(kv[0], kv[1])
                }
            }
            return .dict(d)
        }
        return .reduced(arena.call("\(module).\(name)", args))
    }

    // MARK: Stack and memo

    private mutating func pop(_ op: UInt8, _ at: Int) throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw underflow(op, at, 1) }
        return stack.removeLast().value
    }

    private mutating func push(_ v: PickleValue, depth: Int = 0) throws {
        guard depth <= Self.maxDepth else {
            throw fail(.unsupported, "the pickle nests values more than \(Self.maxDepth) levels deep (at byte \(pos)); a state dict never does")
        }
        stack.append(Item(value: v, depth: depth))
    }

    private mutating func pushTuple(_ items: [Item]) throws {
        try push(.tuple(items.map(\.value)), depth: 1 + (items.map(\.depth).max() ?? 0))
    }

    private mutating func popMarkValues(_ op: UInt8, _ at: Int) throws -> [PickleValue] {
        try popMark(op, at).map(\.value)
    }

    private mutating func popMark(_ op: UInt8, _ at: Int) throws -> [Item] {
        guard let m = marks.popLast() else {
            throw fail(.corrupt, "\(opName(op)) at byte \(at) needs a MARK but there is none")
        }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func topList(_ op: UInt8, _ at: Int) throws -> PickleList {
        guard stack.count > (marks.last ?? 0), let top = stack.last?.value else { throw underflow(op, at, 1) }
        guard case .list(let l) = top else { throw fail(.corrupt, "\(opName(op)) at byte \(at) appends to a \(top.typeName), not a list") }
        return l
    }

    private func topDict(_ op: UInt8, _ at: Int) throws -> PickleDict {
        guard stack.count > (marks.last ?? 0), let top = stack.last?.value else { throw underflow(op, at, 1) }
        guard case .dict(let d) = top else { throw fail(.corrupt, "\(opName(op)) at byte \(at) sets an item on a \(top.typeName), not a dict") }
        return d
    }

    private func makeDict(_ items: [PickleValue], _ op: UInt8, _ at: Int) throws -> PickleDict {
        guard items.count % 2 == 0 else { throw fail(.corrupt, "DICT at byte \(at) has an odd number (\(items.count)) of keys and values") }
        let d = arena.dict()
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        return d
    }

    private mutating func put(_ index: Int, _ op: UInt8, _ at: Int) throws {
        guard stack.count > (marks.last ?? 0), let top = stack.last else { throw underflow(op, at, 1) }
        // CPython grows its memo table to the index; an index beyond what a pickle of this size
        // could number is an attempt to exhaust memory, never a real pickle.
        guard index >= 0, index <= data.count else {
            throw fail(.corrupt, "malformed pickle: \(opName(op)) at byte \(at) stores memo index \(index), out of range (0...\(data.count) for a pickle of \(data.count) bytes)")
        }
        memo[index] = top
    }

    private mutating func get(_ index: Int, _ at: Int) throws {
        guard let v = memo[index] else {
            throw fail(.corrupt, "malformed pickle: \(opName(op)) at byte \(at) fetches memo index \(index), which was never stored (\(memo.count) stored)")
        }
        stack.append(v)
    }

    // MARK: Reading

    /// Checks that `n` argument bytes follow, inside the current frame if there is one.
    private func need(_ n: Int) throws {
        guard data.contains(pos, n) else { throw endOfData(n) }
        if let end = frameEnd, n > end - pos { throw frameOverrun(end) }
    }

    private mutating func readByte() throws -> UInt8 {
        try need(1)
        defer { pos += 1 }
        return data.bytes[pos]
    }

    /// An unsigned little-endian integer of `n` (1, 2, 4 or 8) bytes as Int (8-byte values above Int.max fail).
    private mutating func readInt(_ n: Int, _ at: Int) throws -> Int {
        try need(n)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(data.bytes[pos + i]) }
        pos += n
        guard let r = Int(exactly: v) else { throw fail(.corrupt, "length \(v) at byte \(at) is beyond any file size") }
        return r
    }

    private mutating func readBytes(_ n: Int, _ at: Int) throws -> [UInt8] {
        try need(n)
        defer { pos += n }
        return Array(data.bytes[pos ..< pos + n])
    }

    private mutating func readString(count n: Int, _ at: Int) throws -> String {
        try need(n)
        defer { pos += n }
        guard let s = String(validating: data.bytes[pos ..< pos + n], as: UTF8.self) else {
            throw fail(.corrupt, "string at byte \(at) is not valid UTF-8")
        }
        return s
    }

    /// A newline-terminated text argument (protocol-0 opcodes, GLOBAL), at most 4096 bytes.
    private mutating func readLine(_ at: Int) throws -> String {
        var end = pos
        let limit = frameEnd ?? data.count
        while end < limit, data.bytes[end] != 0x0A {
            end += 1
            guard end - pos <= 4096 else { throw fail(.corrupt, "\(opName(op)) at byte \(at): text argument longer than 4096 bytes") }
        }
        if let frame = frameEnd, end == frame { throw frameOverrun(frame) }
        guard end < data.count else { throw endOfData(end - pos + 1) }
        defer { pos = end + 1 }
        guard let s = String(validating: data.bytes[pos ..< end], as: UTF8.self) else {
            throw fail(.corrupt, "text argument at byte \(at) is not valid UTF-8")
        }
        return s
    }

    /// Two's-complement little-endian integer of `count` bytes (LONG1/LONG4).
    private mutating func readLong(count n: Int, _ at: Int) throws -> PickleValue {
        try need(n)
        defer { pos += n }
        if n == 0 { return .int(0) }
        let bytes = data.bytes[pos ..< pos + n]
        let negative = bytes[pos + n - 1] & 0x80 != 0
        // Bytes beyond the 8th must be pure sign extension for the value to fit in Int.
        if n > 8, bytes[(pos + 8)...].contains(where: { $0 != (negative ? 0xFF : 0) }) { return .bigInt(byteCount: n) }
        var v: UInt64 = negative ? ~0 : 0
        for i in stride(from: min(n, 8) - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[pos + i]) }
        let r = Int(Int64(bitPattern: v))
        if n >= 8, (r < 0) != negative { return .bigInt(byteCount: n) }
        return .int(r)
    }

    // MARK: Errors

    private func fail(_ kind: CheckpointError.Kind, _ message: String) -> CheckpointError {
        CheckpointError(kind, path: "", message)
    }

    private func underflow(_ op: UInt8, _ at: Int, _ n: Int) -> CheckpointError {
        fail(.corrupt, "malformed pickle: \(opName(op)) at byte \(at) of \(data.name) needs \(n) stack item(s) above the last mark")
    }

    private func endOfData(_ n: Int) -> CheckpointError {
        fail(.truncated, "truncated: \(opName(op)) at byte \(opAt) of the pickle \(data.name) needs \(n) more byte(s) of argument at byte \(pos) but the pickle has only \(data.count) bytes")
    }

    private func frameOverrun(_ end: Int) -> CheckpointError {
        fail(.corrupt, "malformed pickle: \(opName(op)) at byte \(opAt) is split across frames: its argument runs past the end of the frame started at byte \(frameStart) (at byte \(end))")
    }

    private func clip(_ s: String) -> String { s.count <= 200 ? s : String(s.prefix(200)) + "…" }

    private func printable(_ op: UInt8) -> String {
        (0x21 ... 0x7E).contains(op) ? " ('\(Character(Unicode.Scalar(op)))')" : ""
    }

    private func opName(_ op: UInt8) -> String { PickleOpcodes.name(op) }
}
