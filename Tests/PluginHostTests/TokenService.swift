import Crypto
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import PluginHostImages

/// The token service of a registry configured for distribution's token auth: it answers
/// `GET /token?service=…&scope=…` with basic credentials by a JWT (ES256) whose `x5c` header
/// holds the certificate the registry trusts (`rootCertificates`), granting the scopes asked for.
/// A request without the right credentials gets 401.
final class TokenService {
    static let service = "plugin-host-test-registry"
    static let issuer = "plugin-host-test-tokens"

    private let server: FakeRegistry
    /// The PEM file of the signing certificate, for the registry's `rootcertbundle`.
    let rootCertificates: String
    private final class Grants: Sendable { let list = Mutex<[String]>([]) }
    private let granted = Grants()

    var realm: String { "http://\(server.address)/token" }
    /// The scopes granted so far, one entry per scope of each token.
    var grants: [String] { granted.list.withLock { $0 } }

    init(directory: TemporaryDirectory, credentials: String = "device:field-secret") throws {
        let key = P256.Signing.PrivateKey()
        let keyFile = directory.path("token-signer.key")
        try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: keyFile))
        rootCertificates = directory.path("token-signer.pem")
        let openssl = try #require(Tool.onPath("openssl"), "openssl is needed to make the token signer's certificate")
        for step in [["req", "-x509", "-new", "-key", keyFile, "-out", rootCertificates, "-days", "2", "-subj", "/CN=plugin-host test tokens"],
                     ["x509", "-in", rootCertificates, "-outform", "DER", "-out", directory.path("token-signer.der")]] {
            let run = try Tool.run(openssl, step)
            guard run.status == 0 else { throw ModuleError(.io, "openssl \(step[0]) failed: \(run.stderr)") }
        }
        let certificate = try Data(contentsOf: URL(fileURLWithPath: directory.path("token-signer.der"))).base64EncodedString()
        let granted = self.granted
        let expected = "Basic " + Data(credentials.utf8).base64EncodedString()
        server = try FakeRegistry { request in
            guard request.path.hasPrefix("/token"), let query = URLComponents(string: request.path)?.queryItems else { return .init(status: 404) }
            guard request.headers["authorization"] == expected else { return .init(status: 401) }
            guard query.first(where: { $0.name == "service" })?.value == Self.service else { return .init(status: 400) }
            var access: [[String: Any]] = []
            for scope in query.filter({ $0.name == "scope" }).compactMap(\.value) {
                let parts = scope.split(separator: ":").map(String.init)
                guard parts.count >= 3 else { return .init(status: 400) }
                access.append(["type": parts[0], "name": parts[1..<(parts.count - 1)].joined(separator: ":"),
                               "actions": parts[parts.count - 1].split(separator: ",").map(String.init)])
                granted.list.withLock { $0.append(scope) }
            }
            let now = Int(Date().timeIntervalSince1970)
            let claims: [String: Any] = ["iss": Self.issuer, "sub": String(credentials.split(separator: ":")[0]), "aud": Self.service,
                                         "exp": now + 300, "nbf": now - 10, "iat": now, "jti": UUID().uuidString, "access": access]
            let header: [String: Any] = ["typ": "JWT", "alg": "ES256", "x5c": [certificate]]
            guard let headerJSON = try? JSONSerialization.data(withJSONObject: header), let claimsJSON = try? JSONSerialization.data(withJSONObject: claims),
                  let signature = try? key.signature(for: Data((Self.base64URL(headerJSON) + "." + Self.base64URL(claimsJSON)).utf8)) else {
                return .init(status: 500)
            }
            let token = Self.base64URL(headerJSON) + "." + Self.base64URL(claimsJSON) + "." + Self.base64URL(signature.rawRepresentation)
            let body = try? JSONSerialization.data(withJSONObject: ["token": token, "access_token": token, "expires_in": 300])
            return .init(status: 200, headers: ["Content-Type": "application/json"], body: body ?? Data())
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
