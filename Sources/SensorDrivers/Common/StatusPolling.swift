/// Waiting for a chip's status bit (conversion done, reset finished) without blocking the
/// cooperative pool, and without calling a healthy chip hung on a loaded machine.
enum StatusPolling {
    /// Status reads made before a deadline may fail a wait. On a busy machine a single 1 ms sleep
    /// can outlast the whole deadline; the chip must then still get several looks.
    static let minimumChecks = 10

    /// Calls `isDone` until it returns true, sleeping `interval` between calls.
    ///
    /// Runs on the caller's actor (the driver's), so the closures may use its state.
    /// - Parameters:
    ///   - deadline: after this instant the wait fails, but only once `minimumChecks` calls were made.
    ///   - timeout: the error to throw then (a `SensorError(.timeout)` that says what to check).
    /// - Throws: `timeout()`; whatever `isDone` throws; `CancellationError`.
    static func wait(
        isolation: isolated (any Actor)? = #isolation,
        until deadline: ContinuousClock.Instant,
        interval: Duration,
        timeout: () -> SensorError,
        _ isDone: () throws -> Bool
    ) async throws {
        var checks = 0
        while true {
            if try isDone() { return }
            checks += 1
            if ContinuousClock.now >= deadline && checks >= minimumChecks { throw timeout() }
            try await Task.sleep(for: interval)
        }
    }
}

/// A value's hexadecimal digits, upper case, zero-padded to `width`: the one formatter behind
/// every driver's messages ("0x68", "8583h", "28-…").
func hexDigits<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
