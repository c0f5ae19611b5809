#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A key in the trust store and what it may sign: the modules (its scope) and until when.
///
/// Its trust file, `<state-dir>/trust/<keyid>.pub`, is the public key line that `keygen` writes,
/// followed by the optional lines `modules <pattern> <pattern>…` and `expires <YYYY-MM-DD>`.
/// A file of the key line alone is an unscoped key, as every trust file was before scopes
/// existed: it may sign any module, and never expires. A line this host does not know makes the
/// file an error, so an older host refuses a restriction it cannot apply rather than ignore it.
public struct TrustedKey: Sendable, Equatable {
    public let key: ModulePublicKey
    /// The modules this key may sign; nil for an unscoped key, which may sign any module.
    public let modules: [ModulePattern]?
    /// The last day the key may sign an image that is being installed; nil: no end.
    public let expires: KeyExpiry?

    public init(_ key: ModulePublicKey, modules: [ModulePattern]? = nil, expires: KeyExpiry? = nil) {
        self.key = key
        self.modules = modules
        self.expires = expires
    }

    public var keyID: String { key.keyID }

    /// Whether the key's scope includes `moduleID` (an unscoped key's includes every module).
    public func covers(_ moduleID: String) -> Bool {
        modules?.contains { $0.matches(moduleID) } ?? true
    }

    /// The scope as people read it: `com.example.*, org.acme.sensor`, or `any module`.
    public var scopeDescription: String {
        modules.map { $0.isEmpty ? "no module" : $0.map(\.text).joined(separator: ", ") } ?? "any module"
    }

    /// The `plugin-host trust add` command that keeps this key's scope and expiry, with one more
    /// `--modules` pattern or another expiry when given.
    public func addCommand(addingPattern: String? = nil, expires newExpiry: String? = nil) -> String {
        let patterns = (modules ?? []).map(\.text) + (addingPattern.map { [$0] } ?? [])
        var command = "plugin-host trust add \(keyID)" + patterns.map { " --modules '\($0)'" }.joined()
        if let day = newExpiry ?? expires?.day { command += " --expires \(day)" }
        return command
    }

    /// Checks that this key may sign `moduleID` at `now` (the device clock at install time).
    /// - Throws: `ModuleError` `.keyOutOfScope` or `.keyExpired`, whose message names the key,
    ///   its scope or expiry, the module and the command that changes them.
    public func authorize(_ moduleID: String, at now: Date, image: String) throws(ModuleError) {
        guard covers(moduleID) else {
            throw ModuleError(.keyOutOfScope, "image '\(image)' holds module \(moduleID), which key \(keyID) may not sign: its scope is \(scopeDescription). If this publisher may sign \(moduleID), widen the key's scope: \(addCommand(addingPattern: moduleID))", field: keyID)
        }
        if let expires, expires.hasPassed(at: now) {
            throw ModuleError(.keyExpired, "image '\(image)' of module \(moduleID) is signed by key \(keyID), which expired after \(expires.day) (UTC); this device's clock says \(now.formatted(.iso8601)). Modules already installed are not affected. If the clock is wrong, set it; if the publisher still uses this key, renew it: \(addCommand(expires: "<YYYY-MM-DD>"))", field: keyID)
        }
    }

    // MARK: - Trust file

    /// The trust file's content: the key line, then `modules` and `expires` when set.
    public var fileContent: String {
        var text = key.fileContent
        if let modules { text += "modules" + modules.map { " " + $0.text }.joined() + "\n" }
        if let expires { text += "expires \(expires.day)\n" }
        return text
    }

    /// Parses a trust file's content.
    /// - Parameters:
    ///   - fileContent: the key line, then the optional `modules` and `expires` lines.
    ///   - file: the file's path, for the messages.
    /// - Throws: `ModuleError` `.invalidKey` naming the file and what is wrong in it.
    public init(fileContent: String, file: String) throws(ModuleError) {
        func damaged(_ problem: String) -> ModuleError {
            ModuleError(.invalidKey, "trusted key file \(file) \(problem): remove it and add the key again with `plugin-host trust add`", field: file)
        }
        let lines = fileContent.split(separator: "\n").map(\.trimmed).filter { !$0.isEmpty }
        guard let keyLine = lines.first else { throw damaged("is empty") }
        let key: ModulePublicKey
        do { key = try ModulePublicKey(fileContent: keyLine) } catch { throw damaged("does not start with a public key: \(error.message)") }
        var modules: [ModulePattern]?
        var expires: KeyExpiry?
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ").map(String.init)
            switch fields[0] {
            case "modules" where modules == nil:
                do { modules = try fields.dropFirst().map { (text) throws(ModuleError) in try ModulePattern(text) } } catch { throw damaged("has a bad scope: \(error.message)") }
            case "expires" where expires == nil && fields.count == 2:
                do { expires = try KeyExpiry(fields[1]) } catch { throw damaged("has a bad expiry: \(error.message)") }
            default:
                throw damaged("has a line this host does not understand, '\(line)' (it knows one 'modules' and one 'expires' line; a newer plugin-host may have written it)")
            }
        }
        self.init(key, modules: modules, expires: expires)
    }
}

/// A module-id pattern of a key's scope. Either a module id, which matches that module only
/// (`com.example.thermostat`), or a prefix of one or more whole parts followed by `.*`, which
/// matches every module id that has one or more further parts after that prefix:
/// `com.example.*` matches `com.example.x` and `com.example.x.y`, but not `com.example` nor
/// `com.examplex`. `*` stands for whole parts only, and only at the end.
public struct ModulePattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String

    /// - Throws: `ModuleError` `.invalidKey` saying what is wrong and what to write instead.
    public init(_ text: String) throws(ModuleError) {
        func refuse(_ problem: String) -> ModuleError {
            ModuleError(.invalidKey, "'\(text)' is not a module pattern: \(problem)", field: text)
        }
        let example = "write a module id (com.example.thermostat) or a prefix followed by '.*' (com.example.*)"
        guard !text.isEmpty else { throw refuse("it is empty; \(example)") }
        guard !text.contains(where: { $0 == "," || $0.isWhitespace }) else {
            throw refuse("give one pattern per option: --modules 'com.example.*' --modules 'org.acme.sensor'")
        }
        guard text.utf8.count <= 128 else { throw refuse("it is longer than a module id may be (128 bytes)") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts != ["*"] else {
            throw refuse("'*' alone would let the key sign any module; name the modules it may sign (com.example.*), or add the key without --modules to trust it for every module")
        }
        let wildcard = parts.last == "*"
        let named = wildcard ? parts.dropLast() : parts[...]
        if let bad = named.first(where: { $0.contains("*") }) {
            throw refuse(bad == "*"
                ? "'*' may only be the last part, standing for the parts after a prefix ('com.example.*')"
                : "'\(bad)' mixes '*' with a name; '*' stands for whole parts only, as the last part ('com.example.*')")
        }
        if let bad = named.first(where: { !ModuleManifest.isModuleIDPart($0) }) {
            throw refuse(bad.isEmpty
                ? "it has an empty part (two dots, or a dot at the start or end); \(example)"
                : "part '\(bad)' is not lowercase letters, digits, '-' and '_' starting with a letter, as the parts of module ids are; \(example)")
        }
        guard wildcard || parts.count >= 2 else {
            throw refuse("a module id has at least two parts; for the modules under '\(text)' write '\(text).*'")
        }
        self.text = text
    }

    /// Whether `moduleID` (a valid module id) matches.
    public func matches(_ moduleID: String) -> Bool {
        guard text.hasSuffix(".*") else { return moduleID == text }
        let prefix = text.dropLast()
        return moduleID.count > prefix.count && moduleID.hasPrefix(prefix)
    }

    public var description: String { text }
}

/// The last day (UTC) on which a trusted key may sign an image that is being installed, written
/// `YYYY-MM-DD`. The key expires at the end of that day: from 00:00:00 UTC of the next day on,
/// by the device's clock at install time.
public struct KeyExpiry: Sendable, Hashable, CustomStringConvertible {
    /// The day, `YYYY-MM-DD`.
    public let day: String
    /// The first instant after that day.
    public let end: Date

    static let format = Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day()

    /// - Throws: `ModuleError` `.invalidKey` if `day` is not a date written `YYYY-MM-DD`.
    public init(_ day: String) throws(ModuleError) {
        // The parser is lenient (2027-2-30 becomes 2027-03-02): only a date that it writes back
        // unchanged is one.
        guard let start = try? Self.format.parse(day), start.formatted(Self.format) == day else {
            throw ModuleError(.invalidKey, "'\(day)' is not a date: write the key's last valid day (UTC) as YYYY-MM-DD, e.g. 2027-06-30", field: day)
        }
        self.day = day
        end = start + 86_400
    }

    /// Whether the key has expired at `now`.
    public func hasPassed(at now: Date) -> Bool { now >= end }

    public var description: String { day }
}
