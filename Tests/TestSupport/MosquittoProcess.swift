import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's mosquitto broker on a free port of 127.0.0.1, with its configuration, persistence
/// and log in a directory of the caller's: plain, or TLS (with client certificates when asked),
/// with password and ACL files when given. `kill()` ends it with SIGKILL (a broker that
/// crashed), `start()` serves again on the same port and persistence. The uplink tests and
/// `sdk-bench uplink` start their brokers with it; Scripts/ensure-mosquitto.sh installs it.
public final class MosquittoProcess {
    public typealias StartError = ServerProcess.StartError

    /// What the broker asks of clients.
    public struct Security {
        /// `ca.pem`, `server.crt` and `server.key` from `TestCertificates`: TLS on the listener.
        public var certificates: TestCertificates?
        /// Clients must present a certificate signed by the CA (mutual TLS).
        public var requireClientCertificate = false
        /// user → password; anonymous clients are refused when given.
        public var users: [String: String] = [:]
        /// The ACL file's text (`user …`, `topic …`, `pattern … %c`); none when nil.
        public var acl: String?

        public init(certificates: TestCertificates? = nil, requireClientCertificate: Bool = false, users: [String: String] = [:], acl: String? = nil) {
            self.certificates = certificates
            self.requireClientCertificate = requireClientCertificate
            self.users = users
            self.acl = acl
        }
    }

    /// mosquitto on PATH (or /usr/sbin), or nil.
    public static var executable: URL? {
        Tool.onPath("mosquitto") ?? (FileManager.default.isExecutableFile(atPath: "/usr/sbin/mosquitto") ? URL(fileURLWithPath: "/usr/sbin/mosquitto") : nil)
    }

    public var port: Int { server.port }
    public let directory: String
    /// `mqtt://127.0.0.1:PORT` or `mqtts://…` with TLS.
    public var url: String { "\(usesTLS ? "mqtts" : "mqtt")://127.0.0.1:\(port)" }
    public let usesTLS: Bool
    private let server: ServerProcess

    /// Writes `<directory>/mosquitto.conf` (unless `persistent` is false, persistence saved on
    /// every change, so that a broker killed with SIGKILL keeps what it acknowledged as far as
    /// mosquitto can), starts the
    /// broker (unless `start` is false: a broker that is down) and waits until it listens.
    public init(directory: String, security: Security = Security(), persistent: Bool = true, start: Bool = true) throws {
        guard let executable = Self.executable else {
            throw StartError(description: "mosquitto is not installed: run Scripts/ensure-mosquitto.sh")
        }
        try FileManager.default.createDirectory(atPath: directory + "/persistence", withIntermediateDirectories: true)
        let port = try ServerProcess.freePort()
        usesTLS = security.certificates != nil
        var config = """
        user root
        listener \(port) 127.0.0.1
        persistence \(persistent)
        persistence_location \(directory)/persistence/
        autosave_interval 1
        autosave_on_changes true
        max_queued_messages 100000
        log_dest file \(directory)/mosquitto.log
        log_type error
        log_type warning
        log_type notice
        log_type subscribe

        """
        if let certificates = security.certificates {
            config += "cafile \(certificates.ca)\ncertfile \(certificates.serverCertificate)\nkeyfile \(certificates.serverKey)\n"
            if security.requireClientCertificate { config += "require_certificate true\n" }
        }
        if security.users.isEmpty {
            config += "allow_anonymous true\n"
        } else {
            let passwords = directory + "/passwords"
            FileManager.default.createFile(atPath: passwords, contents: nil)
            guard let passwd = Tool.onPath("mosquitto_passwd") else { throw StartError(description: "mosquitto_passwd is not installed (package mosquitto)") }
            for (user, password) in security.users.sorted(by: { $0.key < $1.key }) {
                let run = try Tool.run(passwd, ["-b", passwords, user, password])
                guard run.status == 0 else { throw StartError(description: "mosquitto_passwd failed: \(run.stderr)") }
            }
            config += "allow_anonymous false\npassword_file \(passwords)\n"
        }
        if let acl = security.acl {
            try Data(acl.utf8).write(to: URL(fileURLWithPath: directory + "/acl"))
            config += "acl_file \(directory)/acl\n"
        }
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/mosquitto.conf"))
        self.directory = directory
        // Its own log file takes what it says; its output (nothing) goes to a second one.
        server = ServerProcess(name: "mosquitto", port: port, executable: executable, arguments: ["-c", directory + "/mosquitto.conf"],
                               log: directory + "/output.log", resetSignalMask: true)
        if start { try self.start() }
    }

    /// Starts the broker (again, after `stop` or `kill`) and waits until it listens.
    public func start() throws { try server.start() }

    /// Ends the broker with SIGTERM (it saves its persistence) and waits.
    public func stop() { server.stop() }

    /// Ends the broker with SIGKILL, as a crash, and waits.
    public func kill() { server.kill() }

    /// mosquitto_sub on this broker, printing `topic payload` lines, QoS 1, with a persistent
    /// session under `clientID` (so that it receives what was published while it or the broker
    /// was away). TLS and credentials as given.
    public func subscriber(_ filter: String, clientID: String, user: (String, String)? = nil, clientCertificate: (String, String)? = nil, ca: String? = nil) throws -> RunningTool {
        guard let sub = Tool.onPath("mosquitto_sub") else { throw StartError(description: "mosquitto_sub is not installed (package mosquitto-clients)") }
        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", filter, "-q", "1", "-c", "-i", clientID, "-v", "-V", "mqttv5", "-x", "600"]
        if let user { arguments += ["-u", user.0, "-P", user.1] }
        if let ca { arguments += ["--cafile", ca] }
        if let clientCertificate { arguments += ["--cert", clientCertificate.0, "--key", clientCertificate.1] }
        return try RunningTool(sub, arguments)
    }
}

extension MosquittoProcess {
    /// Whether the broker's log says client `clientID` is connected (its last connect is later
    /// than its last disconnect). Not that a subscriber's subscription exists yet: mosquitto logs
    /// the connect when it accepts the CONNECT, before its CONNACK, and the client sends its
    /// SUBSCRIBE only once the CONNACK arrived; wait with `hasSubscription` for that.
    public func hasClient(_ clientID: String) -> Bool {
        guard let log = try? String(contentsOfFile: directory + "/mosquitto.log", encoding: .utf8) else { return false }
        let connected = log.range(of: " as \(clientID) (", options: .backwards)?.lowerBound
        let gone = log.range(of: "Client \(clientID) ", options: .backwards)?.lowerBound
        guard let connected else { return false }
        return gone.map { $0 < connected } ?? true
    }

    /// Whether the broker's log says client `clientID` subscribed to `filter` (at QoS 1, as
    /// `subscriber` does) since its last connect: from then on the broker routes what is
    /// published on `filter` to it, and keeps the subscription in its persistent session (a
    /// broker stopped before that line would restart without it, and what is published before
    /// the client comes back and subscribes again would never reach it).
    public func hasSubscription(_ clientID: String, filter: String) -> Bool {
        guard let log = try? String(contentsOfFile: directory + "/mosquitto.log", encoding: .utf8),
              let connected = log.range(of: " as \(clientID) (", options: .backwards) else { return false }
        // `log_type subscribe` lines: "TIME: CLIENT-ID QOS FILTER".
        return log[connected.upperBound...].contains(": \(clientID) 1 \(filter)\n")
    }

    /// Publishes with mosquitto_pub (QoS 1), as a back end does.
    public func publish(topic: String, payload: String, retain: Bool = false) throws {
        guard let pub = Tool.onPath("mosquitto_pub") else { throw StartError(description: "mosquitto_pub is not installed (package mosquitto-clients)") }
        let run = try Tool.run(pub, ["-h", "127.0.0.1", "-p", "\(port)", "-q", "1", "-t", topic, "-m", payload] + (retain ? ["-r"] : []))
        guard run.status == 0 else { throw StartError(description: "mosquitto_pub failed: \(run.stderr)") }
    }

    /// The retained message of `topic` (plain listeners only), or nil when there is none.
    public func retained(topic: String) throws -> String? {
        guard let sub = Tool.onPath("mosquitto_sub") else { throw StartError(description: "mosquitto_sub is not installed (package mosquitto-clients)") }
        let run = try Tool.run(sub, ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "--retained-only", "-C", "1", "-W", "2"])
        let text = run.stdout.trimmingCharacters(in: .newlines)
        return run.status == 0 && !text.isEmpty ? text : nil
    }
}

/// A CA, a server certificate for 127.0.0.1 and client certificates, all signed by the CA
/// (openssl, P-256, two days), in a directory of the caller's.
public struct TestCertificates: Sendable {
    public let directory: String
    public var ca: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }

    /// Makes the CA and the server's certificate.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8)
            .write(to: URL(fileURLWithPath: directory + "/server.ext"))
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                          "-keyout", directory + "/ca.key", "-out", ca, "-subj", "/CN=iot-sdk test CA"])
        try sign(name: "server", subject: "/CN=127.0.0.1", extensions: directory + "/server.ext")
    }

    /// A client certificate with common name `commonName`, signed by the CA; returns (certificate, key).
    public func client(_ commonName: String) throws -> (certificate: String, key: String) {
        let name = "client-" + commonName
        try Data("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".utf8).write(to: URL(fileURLWithPath: directory + "/client.ext"))
        try sign(name: name, subject: "/CN=\(commonName)", extensions: directory + "/client.ext")
        return (directory + "/\(name).crt", directory + "/\(name).key")
    }

    private func sign(name: String, subject: String, extensions: String) throws {
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", directory + "/\(name).key", "-out", directory + "/\(name).csr", "-subj", subject])
        try Self.openssl(["x509", "-req", "-in", directory + "/\(name).csr", "-CA", ca, "-CAkey", directory + "/ca.key",
                          "-CAcreateserial", "-days", "2", "-out", directory + "/\(name).crt", "-extfile", extensions])
    }

    private static func openssl(_ arguments: [String]) throws {
        guard let openssl = Tool.onPath("openssl") else { throw ServerProcess.StartError(description: "openssl is not installed") }
        let run = try Tool.run(openssl, arguments)
        guard run.status == 0 else { throw ServerProcess.StartError(description: "openssl \(arguments[0]) failed: \(run.stderr)") }
    }
}
