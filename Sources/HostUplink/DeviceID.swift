import LinuxSupport
import PluginHostRuntime
#if canImport(Glibc)
import Glibc
#endif

extension HostMessaging {
    /// The device id when none is given: the first 12 characters of `/etc/machine-id` (systemd's
    /// per-installation id, 32 hex digits; 12 are unique enough in a fleet and short in topics), or
    /// the host name where there is no machine id; nil when neither gives a usable topic level.
    /// - Parameter machineIDFile: where the machine id is (a test's file, or the system's).
    public static func defaultDeviceID(machineIDFile: String = "/etc/machine-id") -> String? {
        if let machineID = Files.readAttributeIfPresent(machineIDFile), machineID.utf8.count >= 12 {
            return String(machineID.prefix(12))
        }
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return nil }
        let hostname = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return TopicRights.idProblem(hostname) == nil ? hostname : nil
    }
}
