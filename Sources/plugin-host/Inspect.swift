import LinuxSupport
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PluginHostImages

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a module image and show its manifest.",
        discussion: """
        Checks every blob's size and digest, the signature against the keys trusted in \
        <state-dir>/trust, the module manifest's schema, and that the key may sign this module \
        (its scope and expiry, by this device's clock). Exits 0 if the image verifies, else with \
        the exit code of the first failed check.
        """
    )

    @Argument(help: "OCI image layout directory, or a .tar of one.")
    var image: String

    @Option(help: "The tag to inspect when the image's index.json lists several.")
    var tag: String?

    @Option(help: "Host state directory holding trust/<keyid>.pub.")
    var stateDir = defaultStateDirectory

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Report: Encodable {
        struct Failure: Encodable {
            var code: String
            var exitCode: Int32
            var field: String?
            var message: String
        }
        var image: String
        var verified: Bool
        var error: Failure?
        var keyID: String?
        var imageManifestDigest: String?
        var manifestDigest: String?
        var layers: [OCI.Descriptor]?
        var manifest: ModuleManifest?
    }

    func run() throws {
        let result: Result<VerifiedImage, ModuleError>
        do {
            let source = try ImageSource.open(image)
            result = .success(try ImageVerifier(trust: TrustStore(stateDirectory: stateDir)).verify(source, reference: tag))
        } catch {
            result = .failure(error)
        }
        switch result {
        case let .success(verified):
            if json {
                try printJSON(Report(image: image, verified: true, keyID: verified.keyID,
                                     imageManifestDigest: verified.imageManifestDigest.description,
                                     manifestDigest: verified.manifestDigest.description,
                                     layers: verified.layers, manifest: verified.manifest))
            } else {
                let m = verified.manifest
                print("image      \(image)")
                print("verified   yes: digests ok, signed by trusted key \(verified.keyID), manifest valid")
                print("module     \(m.id) \(m.version) (ABI \(m.abi))")
                print("manifest   \(verified.imageManifestDigest) (module manifest \(verified.manifestDigest))")
                for layer in verified.layers { print("layer      \(layer.digest) \(layer.size) bytes \(layer.mediaType)") }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(m), as: UTF8.self))
            }
        case let .failure(error):
            if json {
                try printJSON(Report(image: image, verified: false,
                                     error: .init(code: error.code.rawValue, exitCode: error.exitCode, field: error.field, message: error.message)))
            } else {
                writeToStandardError("plugin-host: verification failed: \(error)\n")
            }
            throw ExitCode(error.exitCode)
        }
    }
}
