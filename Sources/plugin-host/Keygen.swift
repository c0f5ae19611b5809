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

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an Ed25519 signing key.",
        discussion: "Writes the private key to <output> (mode 0600) and the public key to <output>.pub, and prints the key id."
    )

    @Option(name: .shortAndLong, help: "Private key file to create; the public key goes to <output>.pub.")
    var output: String

    @Flag(help: "Overwrite existing key files.")
    var force = false

    func validate() throws {
        if !force {
            for path in [output, output + ".pub"] where FileManager.default.fileExists(atPath: path) {
                throw ValidationError("'\(path)' already exists: choose another --output or pass --force")
            }
        }
    }

    func run() throws {
        let key = ModuleSigningKey()
        try CLI.run { () throws(ModuleError) in
            try writeFile(output, key.fileContent, mode: 0o600)
            try writeFile(output + ".pub", key.publicKey.fileContent, mode: 0o644)
        }
        print(key.publicKey.keyID)
    }

    private func writeFile(_ path: String, _ content: String, mode: mode_t) throws(ModuleError) {
        // Created with its final mode so the private key is never readable by others, even briefly.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw ModuleError(.io, "cannot create '\(path)': \(String(cString: strerror(errno)))", field: path)
        }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else {
            throw ModuleError(.io, "cannot set mode of '\(path)': \(String(cString: strerror(errno)))", field: path)
        }
        let bytes = Array(content.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw ModuleError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))", field: path)
        }
    }
}
