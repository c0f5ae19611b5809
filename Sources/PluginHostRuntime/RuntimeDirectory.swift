#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
import PluginHostStore
#if canImport(Glibc)
import Glibc
#endif

/// Where a running host keeps what lasts only while it runs: `status.json`, the control socket
/// and the modules' output at shutdown. It lives on tmpfs (`/run`), so that nothing the host does
/// while it runs wears the device's flash; the state directory is written on state transitions
/// only (install, commit, rollback, a crash record).
///
/// `<state>/run` is a symbolic link to it, so every reader (`plugin-host status`, `logs`,
/// `command`, `sdk-demo`) finds it from the state directory alone. The link is made when the host
/// starts (one write of the state directory per start) and points at:
/// - `$RUNTIME_DIRECTORY` when systemd gives one (the unit's `RuntimeDirectory=plugin-host`);
/// - else `/run/plugin-host` for the default state directory `/var/lib/plugin-host`, and
///   `/run/plugin-host-<hash of the state directory's path>` for any other;
/// - else, where `/run` is not writable (a user's own host), `$XDG_RUNTIME_DIR/plugin-host-<hash>`;
/// - else `<state>/run` stays a plain directory (written on changes only, never fsync'd).
public enum RuntimeDirectory {
    /// The default state directory of the Debian package's service.
    public static let defaultStateDirectory = "/var/lib/plugin-host"

    /// `<state>/run`, the path readers use.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/run" }

    /// Makes the runtime directory and points `<state>/run` at it; returns the directory it
    /// resolved to and, when it had to fall back to the state directory, why.
    /// - Throws: `ModuleError` `.io` if neither the runtime directory nor `<state>/run` can be made.
    @discardableResult
    public static func prepare(stateDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ModuleError) -> (directory: String, note: String?) {
        let link = path(stateDirectory: stateDirectory)
        try StateFiles.makeStateDirectory(stateDirectory)
        for candidate in candidates(stateDirectory: stateDirectory, environment: environment) {
            guard makePrivateDirectory(candidate) else { continue }
            if Files.linkTarget(link) == candidate { return (candidate, nil) }
            if Files.isDirectory(link, followingLinks: false) {
                // A plain directory from an earlier host: it held only runtime files.
                let old = link + ".old-\(getpid())"
                try StateFiles.move(link, to: old)
                try StateFiles.removeTree(old)
            }
            try StateFiles.switchLink(link, to: candidate)
            return (candidate, nil)
        }
        if Files.linkTarget(link) != nil { try StateFiles.removeFile(link) }
        try StateFiles.makeDirectory(link)
        return (link, "no writable tmpfs runtime directory (/run, $XDG_RUNTIME_DIR): runtime status is kept in \(link), written on changes only")
    }

    static func candidates(stateDirectory: String, environment: [String: String]) -> [String] {
        var result: [String] = []
        if let systemd = environment["RUNTIME_DIRECTORY"], systemd.hasPrefix("/") {
            // systemd may list several, separated by ':'; the first is the host's.
            result.append(String(systemd.split(separator: ":").first ?? Substring(systemd)))
        }
        let absolute = absolutePath(stateDirectory)
        let name = "plugin-host-" + hash(absolute)
        result.append(absolute == defaultStateDirectory ? "/run/plugin-host" : "/run/" + name)
        if let user = environment["XDG_RUNTIME_DIR"], user.hasPrefix("/") { result.append(user + "/" + name) }
        return result
    }

    /// Creates `path` (0755, owned by this user) if missing; true if it is a directory this user
    /// owns and can write.
    private static func makePrivateDirectory(_ path: String) -> Bool {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { return false }
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid() && access(path, W_OK) == 0
    }

    private static func absolutePath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// FNV-1a, 64 bits, in hex: a stable short name for a path (not a security boundary: the
    /// directory's owner is checked).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
