#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// The one error type of the module-image domain: what went wrong (`code`), a message that names
/// the fix, the manifest field or file it concerns, and the underlying cause when there is one.
public struct ModuleError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Closed set of failure kinds. Scripts see them through `plugin-host`'s exit codes
    /// (`exitCode`) and `inspect --json`'s `error.code` (the raw value).
    public enum Code: String, Sendable, Codable, CaseIterable {
        // Image structure and integrity (exit code 10)
        case malformedLayout = "malformed-layout"
        case missingBlob = "missing-blob"
        case sizeMismatch = "size-mismatch"
        case digestMismatch = "digest-mismatch"
        case unsupportedMediaType = "unsupported-media-type"
        // Signature and trust (exit code 11)
        case unsigned = "unsigned"
        case untrustedKey = "untrusted-key"
        case badSignature = "bad-signature"
        // Module manifest schema (exit code 12)
        case malformedJSON = "malformed-json"
        case missingField = "missing-field"
        case wrongType = "wrong-type"
        case invalidValue = "invalid-value"
        case unknownABI = "unknown-abi"
        // Keys and the trust store (exit code 13)
        case invalidKey = "invalid-key"
        // Files, directories, archives (exit code 14)
        case io = "io"
        case invalidModuleDirectory = "invalid-module-directory"
        /// A WebAssembly module that does not export what its manifest names with the declared
        /// types, imports what the host does not provide, or is no wasm32 module.
        case wasmModuleRefused = "wasm-module-refused"
        // Layer content refused by the extractor (exit code 15)
        case malformedLayer = "malformed-layer"
        case absolutePath = "absolute-path"
        case pathTraversal = "path-traversal"
        case symlinkEscape = "symlink-escape"
        case hardlinkEscape = "hardlink-escape"
        case specialFile = "special-file"
        case setuidBit = "setuid-bit"
        case tooLarge = "too-large"
        case decompressionBomb = "decompression-bomb"
        // Version policy (exit code 16)
        case downgrade = "downgrade"
        case sameVersion = "same-version"
        // Installed modules and the update engine (exit codes 17-20)
        case notInstalled = "not-installed"
        case nothingToRollBack = "nothing-to-roll-back"
        /// The module is not running (not started, stopped, crashed, or no host is running).
        case notRunning = "not-running"
        case busy = "busy"
        case hookFailed = "hook-failed"
        case unhealthy = "unhealthy"
        case runnerFailed = "runner-failed"
        // Typed commands (exit code 21): no call was made
        case unknownCommand = "unknown-command"
        case badArguments = "bad-arguments"
        // Hardware mediation (exit code 22): the module asked for something it did not declare
        case denied = "denied"
        // A typed command was called but did not return a value (exit code 23): the symbol is
        // missing, the module ended during the call, or it did not answer in time
        case commandFailed = "command-failed"
        // Delivery from a registry (exit code 24): nothing was installed
        /// The registry could not be reached (connection, TLS, proxy, timeout); a later try may work.
        case network = "network"
        /// The registry answered, but not with the image: not found, login needed or refused,
        /// a document too large or not what it claims to be.
        case registry = "registry"
        /// The image has no manifest for this device's platform.
        case noPlatform = "no-platform"
        // Key scope (exit code 25): the signature is valid, but its key may not sign this module
        /// The module id is outside the signing key's scope (`trust add --modules`).
        case keyOutOfScope = "key-out-of-scope"
        /// The signing key's expiry (`trust add --expires`) has passed by the device's clock.
        case keyExpired = "key-expired"
        // Module users (exit code 26): nothing was installed
        /// The manifest asks for `capabilities.root` and the install did not allow it.
        case rootNotAllowed = "root-not-allowed"
        /// Every uid of the module users' range is taken.
        case noModuleUser = "no-module-user"
    }

    public var code: Code
    public var message: String
    /// The manifest field (a dotted path such as `capabilities.gpio[0].line`) or the layout file
    /// (`index.json`, `blobs/sha256/…`) the error is about.
    public var field: String?
    /// A description of the underlying cause (errno text, decoder detail), if any.
    public var underlying: String?

    public init(_ code: Code, _ message: String, field: String? = nil, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.underlying = underlying
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }

    /// The exit code `plugin-host` uses for this error; see Documentation/ModuleImage.md.
    public var exitCode: Int32 {
        switch code {
        case .malformedLayout, .missingBlob, .sizeMismatch, .digestMismatch, .unsupportedMediaType: 10
        case .unsigned, .untrustedKey, .badSignature: 11
        case .malformedJSON, .missingField, .wrongType, .invalidValue, .unknownABI: 12
        case .invalidKey: 13
        case .io, .invalidModuleDirectory, .wasmModuleRefused: 14
        case .malformedLayer, .absolutePath, .pathTraversal, .symlinkEscape, .hardlinkEscape, .specialFile,
             .setuidBit, .tooLarge, .decompressionBomb: 15
        case .downgrade, .sameVersion: 16
        case .notInstalled, .nothingToRollBack, .notRunning: 17
        case .busy: 18
        // The update was refused by the module itself and rolled back: the previous version is active.
        case .hookFailed, .unhealthy, .runnerFailed: 20
        case .unknownCommand, .badArguments: 21
        case .denied: 22
        case .commandFailed: 23
        case .network, .registry, .noPlatform: 24
        case .keyOutOfScope, .keyExpired: 25
        case .rootNotAllowed, .noModuleUser: 26
        }
    }
}

extension ModuleError {
    /// The text of an errno value (strerror(3)), for `underlying`.
    package static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

/// A `ModuleError` as a command prints it with `--json`, `{"error": {"code": …, "message": …}}`,
/// and as the program that ran the command reads it back (the running host reads a channel
/// check's `pull --json`).
public struct ModuleErrorReport: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(_ error: ModuleError) {
        self.error = Detail(code: error.code.rawValue, message: error.message)
    }

    /// The error again; a code this version does not know is a `.network` error, retried.
    public var moduleError: ModuleError {
        ModuleError(ModuleError.Code(rawValue: error.code) ?? .network, error.message)
    }
}
