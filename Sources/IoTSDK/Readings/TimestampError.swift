/// The error thrown when the wall clock cannot be read or a time is outside what ``Timestamp``
/// can represent.
public struct TimestampError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Hashable, Sendable {
        /// A clock system call (`clock_gettime`, `adjtimex`) failed; ``TimestampError/errorNumber``
        /// holds `errno`.
        case clockUnavailable
        /// The time is NaN, infinite, or outside 1677-09-21…2262-04-11.
        case outOfRange
    }

    /// What went wrong.
    public let code: Code

    /// The `errno` of the failed system call, for ``Code/clockUnavailable``.
    public let errorNumber: Int32?

    /// What happened and what to do.
    public let message: String

    /// Creates an error.
    public init(code: Code, errorNumber: Int32? = nil, message: String) {
        self.code = code
        self.errorNumber = errorNumber
        self.message = message
    }

    /// The ``message``.
    public var description: String { message }
}
