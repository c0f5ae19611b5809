import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An Ed25519 signing identity. The private key file holds one line, `ed25519-private <base64>`,
/// and the public key file `ed25519 <base64>` (32 raw bytes each).
public struct ModuleSigningKey: Sendable {
    // Stored as raw bytes: swift-crypto's key types are not `Sendable` on every platform. Both were
    // taken from a key that swift-crypto accepted; the public half is kept so that reading it never
    // needs the private key to be parsed again.
    private let raw: Data
    public let publicKey: ModulePublicKey

    /// The private key. Signing uses this key and no other.
    /// - Throws: `ModuleError` `.invalidKey` if swift-crypto refuses the stored bytes (they were
    ///   accepted when this value was made, so this means the crypto backend changed its mind).
    public var privateKey: Curve25519.Signing.PrivateKey {
        get throws(ModuleError) {
            do { return try Curve25519.Signing.PrivateKey(rawRepresentation: raw) } catch {
                throw ModuleError(.invalidKey, "the signing key's bytes are no longer accepted as an Ed25519 private key: nothing was signed; make a new key with `plugin-host keygen`", underlying: "\(error)")
            }
        }
    }

    /// A new random key.
    public init() { self.init(privateKey: Curve25519.Signing.PrivateKey()) }
    public init(privateKey: Curve25519.Signing.PrivateKey) {
        raw = privateKey.rawRepresentation
        publicKey = ModulePublicKey(privateKey.publicKey)
    }

    /// Parses a private key file's content.
    /// - Throws: `ModuleError` `.invalidKey`.
    public init(fileContent: String) throws(ModuleError) {
        let raw = try KeyFile.parse(fileContent, label: "ed25519-private", what: "private key")
        let key: Curve25519.Signing.PrivateKey
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw) } catch {
            throw ModuleError(.invalidKey, "not an Ed25519 private key: make one with `plugin-host keygen`", underlying: "\(error)")
        }
        self.init(privateKey: key)
    }

    public var fileContent: String { "ed25519-private \(raw.base64EncodedString())\n" }

    /// Signs the image's signing payload (see `SignaturePayload`) with this key.
    /// - Throws: `ModuleError` `.invalidKey` if the key cannot be used; it never signs with another key.
    public func sign(_ payload: Data) throws(ModuleError) -> Data {
        let key = try privateKey
        do { return try key.signature(for: payload) } catch {
            throw ModuleError(.invalidKey, "signing failed", underlying: "\(error)")
        }
    }
}

/// An Ed25519 public key and its key id.
public struct ModulePublicKey: Sendable, Equatable {
    /// The 32 raw public-key bytes.
    public let rawRepresentation: Data

    /// Whether `signature` is this key's Ed25519 signature of `payload`.
    /// - Throws: `ModuleError` `.invalidKey` if swift-crypto refuses the stored bytes (they were
    ///   accepted when this value was made); no other key is ever used in their place.
    public func isValidSignature(_ signature: Data, for payload: Data) throws(ModuleError) -> Bool {
        let key: Curve25519.Signing.PublicKey
        do { key = try Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) } catch {
            throw ModuleError(.invalidKey, "the trusted key's bytes are no longer accepted as an Ed25519 public key: re-add it with `plugin-host trust add`", underlying: "\(error)")
        }
        return key.isValidSignature(signature, for: payload)
    }

    public init(_ key: Curve25519.Signing.PublicKey) { rawRepresentation = key.rawRepresentation }

    /// Parses a public key file's content (`ed25519 <base64>`).
    /// - Throws: `ModuleError` `.invalidKey`.
    public init(fileContent: String) throws(ModuleError) {
        let raw = try KeyFile.parse(fileContent, label: "ed25519", what: "public key")
        do { rawRepresentation = try Curve25519.Signing.PublicKey(rawRepresentation: raw).rawRepresentation } catch {
            throw ModuleError(.invalidKey, "not an Ed25519 public key", underlying: "\(error)")
        }
    }

    public var fileContent: String { "ed25519 \(rawRepresentation.base64EncodedString())\n" }

    /// The key id: the first 8 bytes of SHA-256 over the 32 raw public-key bytes, as 16 hex digits.
    public var keyID: String { Digest(of: rawRepresentation).hex.prefix(16).description }

}

enum KeyFile {
    static func parse(_ content: String, label: String, what: String) throws(ModuleError) -> Data {
        let fields = content.trimmed.split(separator: " ")
        guard fields.count == 2, fields[0] == label, let raw = Data(base64Encoded: String(fields[1])), raw.count == 32 else {
            throw ModuleError(.invalidKey, "not an Ed25519 \(what) file: expected one line '\(label) <base64 of 32 bytes>' as written by `plugin-host keygen`")
        }
        return raw
    }
}

/// What is signed: the module manifest's digest and, so that layers cannot be swapped, each
/// layer's digest, one per line after a fixed domain-separation line:
///
///     iotsdk-module-signature-v1
///     config sha256:<hex>
///     layer sha256:<hex>
///     ...
public enum SignaturePayload {
    public static let keyIDAnnotation = "dev.iotsdk.module.signature.keyid"
    public static let signatureAnnotation = "dev.iotsdk.module.signature.ed25519"

    public static func make(config: Digest, layers: [Digest]) -> Data {
        var text = "iotsdk-module-signature-v1\nconfig \(config)\n"
        for layer in layers { text += "layer \(layer)\n" }
        return Data(text.utf8)
    }
}
