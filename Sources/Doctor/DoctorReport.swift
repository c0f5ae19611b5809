#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// What `sdk-demo doctor` and `plugin-host doctor` print: one check per line, each with a verdict,
// what was found and, when it is not ok, the fix. A FAIL is reserved for something the tool needs
// and does not have; the exit code is 1 exactly when one is present
// (Documentation/Troubleshooting.md lists which checks can fail and why).

/// How a check came out.
public enum DoctorVerdict: String, Codable, Sendable, CaseIterable {
    /// Present and usable.
    case ok
    /// Missing or limited, but the tool runs without it (a fallback, a missing optional feature).
    case warn
    /// Something the tool needs is missing: the exit code is 1.
    case fail
    /// The check cannot be made here (e.g. a simulated root has no real chips); says why.
    case skip

    /// The word printed at the start of the check's line.
    public var label: String {
        switch self {
        case .ok: "ok"
        case .warn: "warn"
        case .fail: "FAIL"
        case .skip: "skip"
        }
    }
}

/// One check's outcome.
public struct DoctorCheck: Codable, Sendable, Equatable {
    /// A short stable name (`gpio`, `i2c-access`, `state-dir`), for scripts and the documentation.
    public var id: String
    public var verdict: DoctorVerdict
    /// What was found, in one sentence.
    public var found: String
    /// What to do about it: the exact command where there is one. nil when ok or skipped.
    public var fix: String?

    public init(_ id: String, _ verdict: DoctorVerdict, _ found: String, fix: String? = nil) {
        self.id = id
        self.verdict = verdict
        self.found = found
        self.fix = fix
    }
}

/// Every check of one run, and what the process exits with.
public struct DoctorReport: Codable, Sendable, Equatable {
    /// `sdk-demo` or `plugin-host`.
    public var tool: String
    public var version: String
    /// The system looked at: `/`, or the directory given with `--root`.
    public var root: String
    public var checks: [DoctorCheck]
    /// 1 when any check failed, else 0.
    public var exitCode: Int32

    public init(tool: String, version: String, root: String, checks: [DoctorCheck]) {
        self.tool = tool
        self.version = version
        self.root = root
        self.checks = checks
        exitCode = checks.contains { $0.verdict == .fail } ? 1 : 0
    }

    /// The check with this id, if it ran.
    public subscript(_ id: String) -> DoctorCheck? { checks.first { $0.id == id } }

    /// One line per check (`FAIL  state-dir     /var/lib/plugin-host is not a directory — fix: …`),
    /// then a summary line with the exit code.
    public var text: String {
        let width = (checks.map(\.id.count).max() ?? 0) + 2
        var lines = checks.map { check in
            var line = check.verdict.label + String(repeating: " ", count: 6 - check.verdict.label.count)
                + check.id + String(repeating: " ", count: width - check.id.count) + check.found
            if check.verdict != .ok, let fix = check.fix { line += " — fix: " + fix }
            return line
        }
        let counts = DoctorVerdict.allCases.compactMap { verdict -> String? in
            let count = checks.filter { $0.verdict == verdict }.count
            return count == 0 ? nil : "\(count) \(verdict.label)"
        }
        lines.append("\(tool) doctor: \(counts.joined(separator: ", ")): "
            + (exitCode == 0 ? "nothing needed is missing" : "something needed is missing") + " (exit \(exitCode))")
        return lines.joined(separator: "\n")
    }

    /// The report as pretty-printed JSON with sorted keys.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension DoctorReport {
    /// What the command prints: `text`, or `json()`.
    public func output(json: Bool) throws -> String {
        json ? try self.json() : text
    }
}
