#if canImport(Glibc)
import Glibc
#endif

/// Why a module's publish, subscribe or unsubscribe through the host did not happen: the host's
/// own checks (`TopicRights`, the payload limit) and what a `ModuleMessaging` implementation
/// throws. The module sees `errno` negated.
public struct UplinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The host has no uplink (no `ModuleMessaging` configured): -ENOTCONN.
        case notConnected = "not-connected"
        /// Not allowed by the manifest's `capabilities.mqtt` (audited): -EACCES.
        case denied
        /// Not a valid topic name or filter, or a bad QoS: -EINVAL.
        case invalidTopic = "invalid-topic"
        /// A device or module id that cannot stand in a topic level: -EINVAL.
        case invalidID = "invalid-id"
        /// A payload larger than the host's limit: -EMSGSIZE.
        case payloadTooLarge = "payload-too-large"
        /// The module's quota of queued bytes is used up: -EDQUOT.
        case quotaExceeded = "quota-exceeded"
        /// The uplink could not take it (its store failed, it is shutting down): -EIO.
        case unavailable
    }

    public var code: Code
    /// What happened and what to do, for people.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The errno value the module sees negated.
    public var errno: Int32 {
        switch code {
        case .notConnected: ENOTCONN
        case .denied: EACCES
        case .invalidTopic, .invalidID: EINVAL
        case .payloadTooLarge: EMSGSIZE
        case .quotaExceeded: EDQUOT
        case .unavailable: EIO
        }
    }

    public var description: String { message }
}
