/// Carries a value the compiler cannot prove `Sendable` into concurrent code (a `@Sendable`
/// closure, `DispatchQueue.concurrentPerform`) on the caller's word that sharing it is race-free.
///
/// Sound only when all of these hold for as long as any thread may use the value:
/// - whatever it points to outlives the concurrent work (wrap inside `withUnsafe…`/
///   `withExtendedLifetime`/`withoutActuallyEscaping` scopes, never let it escape them);
/// - concurrent writers touch disjoint elements, and nothing reads an element while another
///   thread writes it (typical use: each worker writes its own rows, slots or ranges);
/// - a wrapped closure is safe to call from several threads at once.
/// The wrapper adds no synchronisation: it only switches the compiler's check off for one value,
/// so keep its scope as small as the loop that needs it.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}
