#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

/// The state directory's files: LinuxSupport's `DurableFiles` (every write fsync'd, and the
/// directory whose entries changed), with each failure as a `ModuleError` that says what to check.
package enum StateFiles {
    package static func ioError(_ what: String, _ path: String, _ code: Int32 = errno) -> ModuleError {
        ModuleError(.io, "\(what) '\(path)' failed: check that the state directory is writable and the disk is not full", field: path, underlying: ModuleError.errnoText(code))
    }

    /// `ioError` for a failed file operation.
    package static func ioError(_ failure: FileFailure) -> ModuleError {
        ioError(failure.operation, failure.path, failure.errno.rawValue)
    }

    /// Runs a LinuxSupport file operation (a closure written `{ () throws(FileFailure) in … }`);
    /// its failure as `ioError`.
    package static func io<T>(_ body: () throws(FileFailure) -> T) throws(ModuleError) -> T {
        do { return try body() } catch { throw ioError(error) }
    }

    static func sync(_ path: String) throws(ModuleError) { do { try DurableFiles.sync(path) } catch { throw ioError(error) } }
    static func syncParent(of path: String) throws(ModuleError) { do { try DurableFiles.syncParent(of: path) } catch { throw ioError(error) } }
    package static func makeDirectory(_ path: String) throws(ModuleError) { do { try DurableFiles.makeDirectory(path) } catch { throw ioError(error) } }

    /// Makes the state directory if it is missing: 0700, as the Debian package makes
    /// /var/lib/plugin-host, because module data (a module running as root may leave a setuid
    /// file there) and the trust store are root's alone. Missing parents get 0755.
    package static func makeStateDirectory(_ path: String) throws(ModuleError) {
        do { try DurableFiles.makeOwnerOnlyDirectory(path) } catch { throw ioError(error) }
    }

    /// Takes the group's and others' permissions off an existing state directory (`run` and
    /// `install` call it: a directory made by an older host, or by hand, may be 0755). The line
    /// to log when it did, nil when there was nothing to do.
    /// - Throws: `ModuleError` `.io` if the mode cannot be changed (not the directory's owner or root).
    package static func tightenStateDirectory(_ path: String) throws(ModuleError) -> String? {
        let before: mode_t?
        do { before = try DurableFiles.restrictToOwner(path) } catch { throw ioError(error) }
        guard let before else { return nil }
        let after = before & ~0o077
        return "the state directory \(path) was mode \(String(before, radix: 8)), open to other users: made it \(String(after, radix: 8)) (module data and trusted keys are root's alone)"
    }
    package static func writeAtomically(_ data: Data, to path: String, durable: Bool = true) throws(ModuleError) {
        do { try DurableFiles.writeAtomically([UInt8](data), to: path, durable: durable) } catch { throw ioError(error) }
    }
    package static func switchLink(_ path: String, to target: String) throws(ModuleError) { do { try DurableFiles.switchLink(path, to: target) } catch { throw ioError(error) } }
    package static func removeFile(_ path: String) throws(ModuleError) { do { try DurableFiles.removeFile(path) } catch { throw ioError(error) } }
    package static func move(_ from: String, to: String) throws(ModuleError) { do { try DurableFiles.move(from, to: to) } catch { throw ioError(error) } }
    package static func removeTree(_ path: String) throws(ModuleError) { do { try DurableFiles.removeTree(path) } catch { throw ioError(error) } }
    static func copyTree(_ from: String, to: String) throws(ModuleError) { do { try DurableFiles.copyTree(from, to: to) } catch { throw ioError(error) } }
}
