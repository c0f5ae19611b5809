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
        static let configuration = CommandConfiguration(
            abstract: "Trust a public key (a .pub file from `plugin-host keygen`), for some modules or any; prints its key id.",
            discussion: """
            Without --modules the key may sign any module, and `plugin-host doctor` warns about it. \
            With --modules it may sign only the modules whose id matches one of the patterns: a \
            module id (com.example.thermostat), or a prefix of whole parts followed by '.*' \
            (com.example.* matches com.example.x and com.example.x.y, not com.example nor \
            com.examplex). --expires names the key's last valid day (UTC): from the next day on, by \
            the device's clock at install time, images it signed are refused; modules already \
            installed stay. An image outside its key's scope or after its expiry exits 25. Adding a \
            trusted key again replaces its scope and expiry; give its key id instead of the file to \
            do that without the file.
            """)
        @Argument(help: "Public key file, or the id of a key already trusted (to change its scope or expiry).") var publicKey: String
        @Option(help: ArgumentHelp("A module id or 'prefix.*' pattern the key may sign; repeat for several.", valueName: "pattern"))
        var modules: [String] = []
        @Option(help: ArgumentHelp("The key's last valid day, UTC.", valueName: "YYYY-MM-DD"))
        var expires: String?
        @OptionGroup var state: StateOptions

        /// --modules (nil when not given: any module) and --expires, parsed.
        func scope() throws(ModuleError) -> (modules: [ModulePattern]?, expires: KeyExpiry?) {
            let patterns = try modules.map { (text) throws(ModuleError) in try ModulePattern(text) }
            return (patterns.isEmpty ? nil : patterns, try expires.map { (day) throws(ModuleError) in try KeyExpiry(day) })
        }

        func validate() throws {
            let expiry: KeyExpiry?
            do throws(ModuleError) { expiry = try scope().expires } catch { throw ValidationError(error.message) }
            let now = Date()
            if let expiry, expiry.hasPassed(at: now) {
                throw ValidationError("--expires \(expiry.day) is already past by this device's clock (\(now.formatted(.iso8601))): give the key's last valid day, today or later, or set the clock")
            }
        }

        /// The key in the file `publicKey`, or the trusted key with that id.
        func key() throws(ModuleError) -> ModulePublicKey {
            if let data = FileManager.default.contents(atPath: publicKey) {
                return try ModulePublicKey(fileContent: String(decoding: data, as: UTF8.self))
            }
            if let trusted = try state.store.entry(id: publicKey) { return trusted.key }
            throw ModuleError(.io, "cannot read '\(publicKey)': give the .pub file from `plugin-host keygen`, or the id of a key already trusted (`plugin-host trust list`)", field: publicKey)
        }

        func run() throws {
            let id = try CLI.run { () throws(ModuleError) -> String in
                let (patterns, expiry) = try scope()
                return try state.store.add(key(), modules: patterns, expires: expiry)
            }
            print(id)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the trusted keys, the modules each may sign and until when.")
        @OptionGroup var state: StateOptions
        @Flag(help: "Print JSON: [{\"keyID\": …, \"publicKey\": base64, \"modules\": [pattern] (absent: any module), \"expires\": \"YYYY-MM-DD\" (absent: never)}].")
        var json = false

        struct Entry: Encodable {
            var keyID: String
            var publicKey: String
            var modules: [String]?
            var expires: String?
        }

        func run() throws {
            let keys = try CLI.run { () throws(ModuleError) in try state.store.list() }
            if json {
                try printJSON(keys.map { Entry(keyID: $0.keyID, publicKey: $0.key.rawRepresentation.base64EncodedString(),
                                               modules: $0.modules?.map(\.text), expires: $0.expires?.day) })
            } else {
                let now = Date()
                for key in keys {
                    let until = key.expires.map { $0.hasPassed(at: now) ? " (expired after \($0.day), UTC)" : " until \($0.day) (UTC)" } ?? ""
                    print("\(key.keyID)  may sign \(key.scopeDescription)\(until)")
                }
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
