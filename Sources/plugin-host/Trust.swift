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
import PluginHost

struct StateOptions: ParsableArguments {
    @Option(help: "Host state directory; trusted keys live in <state-dir>/trust.")
    var stateDir = defaultStateDirectory

    var store: TrustStore { TrustStore(stateDirectory: stateDir) }
}

struct Trust: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the public keys whose module images this host accepts.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Trust a public key (a .pub file from `plugin-host keygen`); prints its key id.")
        @Argument(help: "Public key file.") var publicKey: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let id = try CLI.run { () throws(ModuleError) -> String in
                guard let data = FileManager.default.contents(atPath: publicKey) else {
                    throw ModuleError(.io, "cannot read '\(publicKey)'", field: publicKey)
                }
                return try state.store.add(ModulePublicKey(fileContent: String(decoding: data, as: UTF8.self)))
            }
            print(id)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List trusted key ids.")
        @OptionGroup var state: StateOptions
        @Flag(help: "Print JSON: [{\"keyID\": …, \"publicKey\": base64}].") var json = false

        struct Entry: Encodable {
            var keyID: String
            var publicKey: String
        }

        func run() throws {
            let keys = try CLI.run { () throws(ModuleError) in try state.store.list() }
            if json {
                try printJSON(keys.map { Entry(keyID: $0.keyID, publicKey: $0.rawRepresentation.base64EncodedString()) })
            } else {
                for key in keys { print(key.keyID) }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop trusting a key. Exits 13 if the key was not trusted.")
        @Argument(help: "Key id (16 hex digits, as `trust list` shows).") var keyID: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let removed = try CLI.run { () throws(ModuleError) in try state.store.remove(id: keyID) }
            guard removed else {
                writeToStandardError("plugin-host: key \(keyID) is not trusted (see `plugin-host trust list`)\n")
                throw ExitCode(ModuleError(.invalidKey, "").exitCode)
            }
            print("removed \(keyID)")
        }
    }
}
