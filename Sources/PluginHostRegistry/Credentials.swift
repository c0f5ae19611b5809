#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import PluginHostImages

/// A user name and password for a registry, as `skopeo login`, `podman login` and `docker login`
/// store them: `{"auths": {"registry.example.com": {"auth": base64("user:password")}}}`.
struct Credentials: Sendable, Equatable {
    var user: String
    var password: String

    /// `Authorization: Basic …`
    var basicHeader: String { "Authorization: Basic " + Data((user + ":" + password).utf8).base64EncodedString() }

    /// The auth files looked at when none is given, in order: $REGISTRY_AUTH_FILE, containers'
    /// ($XDG_RUNTIME_DIR/containers/auth.json, /run/containers/<uid>/auth.json,
    /// ~/.config/containers/auth.json) and Docker's (~/.docker/config.json).
    static func defaultFiles(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> [String] {
        var files: [String] = []
        if let file = environment("REGISTRY_AUTH_FILE"), !file.isEmpty { files.append(file) }
        if let runtime = environment("XDG_RUNTIME_DIR"), !runtime.isEmpty { files.append(runtime + "/containers/auth.json") }
        files.append("/run/containers/\(getuid())/auth.json")
        if let home = environment("HOME"), !home.isEmpty {
            files.append(home + "/.config/containers/auth.json")
            files.append(home + "/.docker/config.json")
        }
        return files
    }

    /// The credentials for `registry` in the first of `files` that has an entry for it. As
    /// Docker reads its config.json, a credential helper named for the registry in `credHelpers`
    /// comes first, then the one in `credsStore`, then the file's own `auths`; a helper is the
    /// executable `docker-credential-<name>` on `PATH` (`get`, the registry on its input).
    /// - Throws: `ModuleError` `.invalidValue` for an auth file that is not valid JSON or whose
    ///   entry for the registry is not base64 `user:password` (a file that is missing is skipped);
    ///   `.registry` for a credential helper that is missing or fails.
    static func find(for registry: String, in files: [String]) throws(ModuleError) -> Credentials? {
        for file in files {
            guard let bytes = try? Files.readBytes(file) else { continue }
            struct AuthFile: Decodable {
                struct Entry: Decodable { var auth: String? }
                var auths: [String: Entry]?
                var credHelpers: [String: String]?
                var credsStore: String?
            }
            let parsed: AuthFile
            do { parsed = try JSONDecoder().decode(AuthFile.self, from: Data(bytes)) } catch {
                throw ModuleError(.invalidValue, "the registry auth file '\(file)' is not valid JSON: log in again (`skopeo login \(registry)`) or fix it", field: file, underlying: "\(error)")
            }
            for helper in [parsed.credHelpers?[registry], parsed.credsStore].compactMap({ $0 }) where !helper.isEmpty {
                if let found = try fromHelper(helper, registry: registry, file: file) { return found }
            }
            guard let auths = parsed.auths else { continue }
            // Keys may be a host, a host with a path, or a URL (Docker Hub's "https://index.docker.io/v1/").
            let names = registry == ImageReference.dockerHub ? [registry, "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"] : [registry]
            let key = names.first { auths[$0] != nil }
                ?? auths.keys.sorted().first { key in
                    let host = key.hasPrefix("https://") ? String(key.dropFirst(8)) : key.hasPrefix("http://") ? String(key.dropFirst(7)) : key
                    return host == registry || host.hasPrefix(registry + "/")
                }
            guard let key, let encoded = auths[key]?.auth else { continue }
            guard let decoded = Data(base64Encoded: encoded), let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                throw ModuleError(.invalidValue, "the entry for \(registry) in the registry auth file '\(file)' is not base64 user:password: log in again (`skopeo login \(registry)`)", field: file)
            }
            return Credentials(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        return nil
    }

    /// Asks the credential helper `docker-credential-<name>` (Docker's protocol: `get`, the
    /// registry on standard input, `{"Username": …, "Secret": …}` on standard output); nil when it
    /// has none for the registry. It gets 10 s.
    static func fromHelper(_ name: String, registry: String, file: String) throws(ModuleError) -> Credentials? {
        let program = "docker-credential-" + name
        let path = (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
            .map { $0 + "/" + program }.first { access($0, X_OK) == 0 }
        guard let path else {
            throw ModuleError(.registry, "'\(file)' names the credential helper \(program) for \(registry), which is not on PATH: install it, or log in with `skopeo login \(registry)` into an auth file given with --authfile", field: file)
        }
        let captured: Subprocess.Captured
        switch Subprocess.capture(path, arguments: ["get"], input: Array((registry + "\n").utf8), mergingErrors: true, limit: 1 << 16, timeout: .seconds(10)) {
        case let .success(done): captured = done
        case let .failure(failure): throw ModuleError(.registry, "cannot run the credential helper \(path): \(failure)")
        }
        let text = String(decoding: captured.output, as: UTF8.self).trimmed
        if captured.timedOut { throw ModuleError(.registry, "the credential helper \(path) did not answer within 10 s for \(registry)") }
        guard captured.status == 0 else {
            // Docker's helpers say this when they hold nothing for the registry.
            if text.lowercased().contains("credentials not found") { return nil }
            throw ModuleError(.registry, "the credential helper \(path) failed for \(registry) (\(Subprocess.describe(waitStatus: captured.status))): \(text.prefix(300))")
        }
        struct Answer: Decodable { var Username: String; var Secret: String }
        guard let decoded = try? JSONDecoder().decode(Answer.self, from: Data(captured.output)) else {
            throw ModuleError(.registry, "the credential helper \(path) answered something other than {\"Username\": …, \"Secret\": …} for \(registry)")
        }
        guard decoded.Username != "<token>" else {
            throw ModuleError(.registry, "the credential helper \(path) holds an identity token for \(registry), which this host does not exchange: log in with a user name and password (`skopeo login \(registry)`)")
        }
        return Credentials(user: decoded.Username, password: decoded.Secret)
    }
}
