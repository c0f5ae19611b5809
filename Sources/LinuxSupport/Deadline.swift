/// poll(2)'s timeout for a deadline on the monotonic clock: -1 without one, 0 once it has
/// passed; rounded up, so that a loop does not wake just before the deadline and spin.
public func pollMilliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let left = deadline - .now
    guard left > .zero else { return 0 }
    let (seconds, attoseconds) = left.components
    return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
}
