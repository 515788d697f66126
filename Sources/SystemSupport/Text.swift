/// String helpers for what Foundation's NSString bridge used to provide.
extension StringProtocol {
    /// Without leading and trailing white space (and, when `newlines`, line breaks).
    public func trimmingWhitespace(newlines: Bool = true) -> String {
        func isSpace(_ c: Character) -> Bool { newlines ? c.isWhitespace : (c.isWhitespace && !c.isNewline) }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first ... last])
    }

    /// Without leading and trailing characters from `set`.
    public func trimming(_ set: Set<Character>) -> String {
        guard let first = firstIndex(where: { !set.contains($0) }), let last = lastIndex(where: { !set.contains($0) }) else { return "" }
        return String(self[first ... last])
    }

    /// Padded with spaces on the right to `width` characters, or cut to it (NSString's `padding(toLength:…)`).
    public func padded(to width: Int) -> String {
        let n = count
        return n >= width ? String(prefix(width)) : String(self) + String(repeating: " ", count: width - n)
    }
}

/// POSIX path arithmetic on strings (NSString's path methods).
public enum Path {
    /// `directory` and `name` joined by one slash; `name` alone when `directory` is empty.
    public static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        if name.isEmpty { return directory }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The path without its last component: "a/b" → "a", "/a" → "/", "a" → "" (trailing slashes ignored).
    public static func directory(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        var d = p[..<slash]
        while d.count > 1, d.hasSuffix("/") { d = d.dropLast() }
        return String(d)
    }

    /// The last component: "a/b" → "b", "a/b/" → "b", "/" → "/".
    public static func lastComponent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/"), p != "/" else { return String(p) }
        return String(p[p.index(after: slash)...])
    }
}
