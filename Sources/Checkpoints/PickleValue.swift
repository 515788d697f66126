/// The value tree a restricted unpickler builds. Nothing in it is ever executed: calls to the
/// few allowed globals are recorded (`reduced`) and interpreted afterwards by the torch layer.
///
/// Lists, dicts and call results are reference types because the pickle machine mutates them
/// after they were memoized (APPEND/SETITEM/BUILD on an object fetched with BINGET must be
/// visible through every reference), exactly as Python objects are shared.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit in 64 bits; only its size in bytes is kept (for messages).
    case bigInt(byteCount: Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A module-level name (`torch.FloatStorage`), already checked against the allowlist.
    case global(module: String, name: String)
    /// `callable(*args)` as recorded by REDUCE / NEWOBJ, with the BUILD state if any.
    case reduced(PickleCall)
    /// A persistent id (torch: `('storage', cls, key, location, numel)`), resolved by the caller.
    case persistent(PickleValue)

    /// A short type name for messages.
    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let m, let n): "global \(m).\(n)"
        case .reduced(let c): "result of \(c.function)"
        case .persistent: "persistent id"
        }
    }
}

final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// An insertion-ordered dict; a repeated key replaces the earlier value in place, as in Python.
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]
    private var intIndex: [Int: Int] = [:]

    var count: Int { keys.count }

    /// Only str, int, bool and None keys are hashed for replacement; other keys (tuples) are
    /// appended, which is enough for state dicts (their keys are strings).
    func set(_ key: PickleValue, _ value: PickleValue) {
        switch key {
        case .string(let s):
            if let i = stringIndex[s] { values[i] = value; return }
            stringIndex[s] = keys.count
        case .int(let n):
            if let i = intIndex[n] { values[i] = value; return }
            intIndex[n] = keys.count
        default:
            break
        }
        keys.append(key)
        values.append(value)
    }

    subscript(key: String) -> PickleValue? { stringIndex[key].map { values[$0] } }

    func removeAll() {
        keys.removeAll()
        values.removeAll()
        stringIndex.removeAll()
        intIndex.removeAll()
    }
}

final class PickleCall {
    let function: String  // "module.name"
    var args: [PickleValue]
    /// What BUILD applied (`__setstate__` argument), if anything.
    var state: PickleValue?
    init(function: String, args: [PickleValue]) {
        self.function = function
        self.args = args
    }
}

/// Owns every container an unpickler creates. Pickles can link containers into arbitrarily
/// long chains (or cycles); releasing such a chain normally recurses once per link and can
/// overflow the stack. `dismantle()` empties every container while the arena still holds
/// them all, so each is later freed with nothing inside.
final class PickleArena {
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []
    private var calls: [PickleCall] = []

    func list(_ items: [PickleValue] = []) -> PickleList {
        let l = PickleList(items)
        lists.append(l)
        return l
    }

    func dict() -> PickleDict {
        let d = PickleDict()
        dicts.append(d)
        return d
    }

    func call(_ function: String, _ args: [PickleValue]) -> PickleCall {
        let c = PickleCall(function: function, args: args)
        calls.append(c)
        return c
    }

    func dismantle() {
        for l in lists { l.items.removeAll() }
        for d in dicts { d.removeAll() }
        for c in calls {
            c.args.removeAll()
            c.state = nil
        }
        lists.removeAll()
        dicts.removeAll()
        calls.removeAll()
    }
}
