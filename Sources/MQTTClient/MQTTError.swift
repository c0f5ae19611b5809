/// What went wrong with the broker connection or a message, with a code that scripts and tests
/// match and prose for people.
public struct MQTTError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A broker URL, client id, topic, filter or option that cannot be used.
        case invalidArgument
        /// libmosquitto could not be loaded (`libmosquitto1` is not installed).
        case libraryUnavailable
        /// A file the configuration names (CA, certificate, key) cannot be read.
        case fileUnreadable
        /// There is no connection to the broker right now; the call may be repeated once there is.
        case notConnected
        /// The broker refused the connection (CONNACK) or a message (PUBACK reason ≥ 0x80).
        case refused
        /// A payload larger than MQTT (or the broker's maximum packet size) allows.
        case payloadTooLarge
        /// The connection has been stopped.
        case stopped
        /// Another failure of libmosquitto or the network.
        case failed
    }

    public let code: Code
    public let message: String
    /// The MQTT reason code (CONNACK or PUBACK) when the broker answered with one.
    public let reason: Int?

    public init(_ code: Code, _ message: String, reason: Int? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    public var description: String { message }
}
