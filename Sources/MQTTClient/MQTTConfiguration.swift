#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the broker is: `mqtt://host[:port]` (TCP, port 1883) or `mqtts://host[:port]` (TLS,
/// port 8883). IPv6 addresses go in brackets: `mqtt://[::1]:1883`.
public struct MQTTBroker: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// True for `mqtts://`: the connection needs `MQTTConfiguration.tls`.
    public let usesTLS: Bool

    /// Parses a broker URL.
    /// - Throws: `MQTTError(.invalidArgument)` for another scheme, a missing host, a path or a
    ///   port outside 1–65535.
    public init(url: String) throws(MQTTError) {
        let scheme: Substring
        let rest: Substring
        if let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") {
            scheme = url[..<colon]
            rest = url[url.index(colon, offsetBy: 3)...]
        } else {
            throw MQTTError(.invalidArgument, "'\(url)' is not a broker URL: write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        }
        switch scheme.lowercased() {
        case "mqtt", "tcp": usesTLS = false
        case "mqtts", "ssl", "tls": usesTLS = true
        default:
            throw MQTTError(.invalidArgument, "the broker URL '\(url)' has the scheme '\(scheme)': use mqtt:// (TCP) or mqtts:// (TLS)")
        }
        var authority = rest
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("/"), !authority.contains("@") else {
            throw MQTTError(.invalidArgument, "the broker URL '\(url)' has a path or user part: give only the host and port; the user name and password are options of their own")
        }
        var hostPart = authority
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw MQTTError(.invalidArgument, "the broker URL '\(url)' has an IPv6 address without its closing ']'")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw MQTTError(.invalidArgument, "the broker URL '\(url)' has text after the IPv6 address") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else {
            throw MQTTError(.invalidArgument, "the broker URL '\(url)' names no host: write e.g. mqtt://broker.example.com")
        }
        host = String(hostPart)
        if let portPart {
            guard let value = Int(portPart), (1...65_535).contains(value) else {
                throw MQTTError(.invalidArgument, "the broker URL '\(url)' has the port '\(portPart)': give a number from 1 to 65535")
            }
            port = value
        } else {
            port = usesTLS ? 8883 : 1883
        }
    }

    public var description: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "mqtts" : "mqtt")://\(shown):\(port)"
    }
}

/// How a client connects and stays connected.
public struct MQTTConfiguration: Sendable {
    public enum ProtocolVersion: Int, Sendable, Hashable {
        /// MQTT 3.1.1: no message expiry, no reason codes on PUBACK.
        case v311 = 4
        /// MQTT 5 (the default): message expiry, session expiry, reason codes.
        case v5 = 5
    }

    /// TLS files, all PEM: the CA that signed the broker's certificate, and for mutual TLS (AWS IoT
    /// Core, Azure IoT Hub) the device's certificate and private key.
    public struct TLS: Sendable, Hashable {
        public var caFile: String
        public var certificateFile: String?
        public var keyFile: String?

        public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// A retained status topic: the broker publishes `offline` (the last will) when the
    /// connection ends without a goodbye; the client publishes `online` (the birth message) on
    /// every connection and `offline` before a graceful disconnect. QoS 1, retained.
    public struct Status: Sendable, Hashable {
        public var topic: String
        public var online: [UInt8]
        public var offline: [UInt8]

        public init(topic: String, online: [UInt8] = Array("online".utf8), offline: [UInt8] = Array("offline".utf8)) {
            self.topic = topic
            self.online = online
            self.offline = offline
        }
    }

    /// Reconnection: the first wait after a failure is `initial`, each further one doubles up to
    /// `maximum`, and each is shortened by a random part of up to `jitter` (0…1) of itself, so that
    /// a fleet that lost its broker together does not come back in step.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var maximum: Duration
        public var jitter: Double

        public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(120), jitter: Double = 0.5) {
            self.initial = initial
            self.maximum = maximum
            self.jitter = jitter
        }

        /// The wait before attempt `attempt` + 1 (`attempt` failures so far, ≥ 1), jitter applied.
        public func delay(afterFailures attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
            var delay = initial
            var step = 1
            while step < attempt && delay < maximum {
                delay *= 2
                step += 1
            }
            delay = min(delay, maximum)
            let (seconds, attoseconds) = delay.components
            let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
            return .nanoseconds(Int64(nanoseconds * (1 - min(max(jitter, 0), 1) * random)))
        }
    }

    public var broker: MQTTBroker
    /// The client identifier; the broker keeps a persistent session under it. Unique per device.
    public var clientID: String
    public var protocolVersion: ProtocolVersion = .v5
    /// Required for `mqtts://`, refused for `mqtt://`.
    public var tls: TLS?
    public var username: String?
    public var password: String?
    /// The broker drops the connection when it hears nothing for 1.5 × this; the client sends a
    /// PINGREQ when it has been quiet this long. 5 s–18 h.
    public var keepAlive: Duration = .seconds(60)
    /// How long the broker keeps the session (subscriptions, and QoS 1 messages for them) while the
    /// device is away; nil for a clean session on every connection. MQTT 3.1.1 keeps a persistent
    /// session without limit.
    public var sessionExpiry: Duration? = .seconds(7 * 86_400)
    public var status: Status?
    public var reconnect = Backoff()
    /// At most this many QoS 1 messages await their PUBACK at once (1–65535).
    public var inflightWindow = 64
    /// The largest payload `publish` accepts (MQTT's own limit is 268,435,455 bytes; a broker may
    /// announce less).
    public var maximumPayload = 256 * 1024

    public init(broker: MQTTBroker, clientID: String) {
        self.broker = broker
        self.clientID = clientID
    }

    /// Checks what can be checked before connecting: the client id, TLS for `mqtts://` and its
    /// files readable, user name with password, the keepalive, the window and the status topic.
    /// - Throws: `MQTTError` `.invalidArgument` or `.fileUnreadable`, saying what to change.
    public func validate() throws(MQTTError) {
        guard !clientID.isEmpty, clientID.utf8.count <= MQTTTopic.maximumLength, !clientID.utf8.contains(0) else {
            throw MQTTError(.invalidArgument, "the client id must be 1–65535 bytes of UTF-8 without NUL; use the device's id, e.g. 'pi-0042'")
        }
        if broker.usesTLS && tls == nil {
            throw MQTTError(.invalidArgument, "\(broker) is a TLS broker: give the CA file that verifies it (--mqtt-ca FILE)")
        }
        if !broker.usesTLS && tls != nil {
            throw MQTTError(.invalidArgument, "TLS files were given for \(broker), a plain-TCP URL: write mqtts:// to use TLS")
        }
        if let tls {
            if (tls.certificateFile == nil) != (tls.keyFile == nil) {
                throw MQTTError(.invalidArgument, "mutual TLS needs both the client certificate and its private key; one of them is missing")
            }
            for file in [tls.caFile, tls.certificateFile, tls.keyFile].compactMap({ $0 }) where access(file, R_OK) != 0 {
                throw MQTTError(.fileUnreadable, "cannot read \(file): \(String(cString: strerror(errno))); check the path and that this user may read it")
            }
        }
        if password != nil && username == nil {
            throw MQTTError(.invalidArgument, "a password was given without a user name")
        }
        guard keepAlive >= .seconds(5), keepAlive <= .seconds(65_535) else {
            throw MQTTError(.invalidArgument, "the keepalive is \(keepAlive): give 5 seconds to 18 hours")
        }
        guard (1...65_535).contains(inflightWindow) else {
            throw MQTTError(.invalidArgument, "the in-flight window is \(inflightWindow): give 1 to 65535")
        }
        guard (1...268_435_455).contains(maximumPayload) else {
            throw MQTTError(.invalidArgument, "the largest payload is \(maximumPayload) bytes: MQTT allows 1 to 268,435,455")
        }
        if let status { try MQTTTopic.validate(name: status.topic) }
    }
}
