#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHostImages
import PluginHostRegistry
import PluginHostStore

/// What a device says it runs: the retained JSON document on `<prefix>devices/<device>/reported`
/// (Documentation/Fleet.md, "Reported state"). Published when something in it changes, with
/// one event on `<prefix>devices/<device>/events` per change (`FleetEvent`).
public struct FleetReport: Codable, Sendable, Equatable {
    public var schema = "plugin-host.reported/1"
    public var device: String
    /// When the report was made (ISO 8601; the device's clock, which may be wrong before NTP).
    public var at: String
    /// What became of the last desired state; nil before one arrived.
    public var desired: Desired?
    public var modules: [String: Module]

    public struct Desired: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable {
            /// Being pulled, verified or installed now.
            case applying
            /// Every module is as the desired state says.
            case applied
            /// Applied, but a module's image failed its health check (rolled back) or was
            /// refused by the engine; `errors` and the module's `failed` say why. Not retried
            /// until the desired state names another image for it.
            case failed
            /// Nothing was changed: the document is malformed, names a module the device does
            /// not have, or an image that cannot be installed (an untrusted signature, another
            /// module's image, a downgrade). Not retried until another desired state arrives.
            case rejected
            /// A registry could not be reached; tried again with backoff, nothing changed yet.
            case waiting
        }
        public var revision: String
        public var status: Status
        public var errors: [String]?
    }

    public struct Module: Codable, Sendable, Equatable {
        /// The active version; nil when none is installed.
        public var version: String?
        /// `running`, `starting`, `backing-off`, `broken`, `stopped` (as `plugin-host status`),
        /// `disabled`, `updating`, or `not-installed`.
        public var state: String
        /// The active version's image manifest digest.
        public var image: String?
        /// Named by the fleet's desired state (else installed by hand: left alone).
        public var managed: Bool
        public var enabled: Bool
        /// The image or channel the desired state gives for it.
        public var source: String?
        public var lastTransaction: Transaction?
        /// The last image from the desired state that did not stay installed.
        public var failed: Failure?
    }

    public struct Transaction: Codable, Sendable, Equatable {
        public var kind: String
        public var result: String
        public var from: String?
        public var to: String?
        public var reason: String?
        /// Seconds since 1970 (the device's clock).
        public var at: Double
    }

    public struct Failure: Codable, Sendable, Equatable {
        /// `rolled-back` or `refused`.
        public var result: String
        public var version: String?
        /// The digest the reference pointed at.
        public var digest: String
        public var reason: String?
    }

    /// The report without its time, for telling whether anything changed.
    var content: FleetReport {
        var copy = self
        copy.at = ""
        return copy
    }
}

/// One change of a device's state, on `<prefix>devices/<device>/events` (not retained).
public struct FleetEvent: Codable, Sendable, Equatable {
    public var device: String
    public var at: String
    /// `installed`, `updated`, `removed`, `state`, `rolled-back`, `refused`, `desired`.
    public var event: String
    public var module: String?
    public var version: String?
    public var from: String?
    public var to: String?
    public var reason: String?
    public var revision: String?

    /// The events that lead from `old` to `new`: per module, installed / removed / updated,
    /// a new failure (rolled back or refused), a state change; and the desired state's status.
    static func changes(from old: FleetReport, to new: FleetReport) -> [FleetEvent] {
        func event(_ kind: String, module: String? = nil) -> FleetEvent {
            FleetEvent(device: new.device, at: new.at, event: kind, module: module)
        }
        var events: [FleetEvent] = []
        if let desired = new.desired, desired != old.desired {
            var change = event("desired")
            change.revision = desired.revision
            change.to = desired.status.rawValue
            change.from = old.desired?.status.rawValue
            change.reason = desired.errors?.joined(separator: "; ")
            events.append(change)
        }
        for id in Set(old.modules.keys).union(new.modules.keys).sorted() {
            let before = old.modules[id], after = new.modules[id]
            let wasInstalled = before.map { $0.version != nil } ?? false, isInstalled = after.map { $0.version != nil } ?? false
            if isInstalled && !wasInstalled {
                var change = event("installed", module: id)
                change.version = after?.version
                events.append(change)
            } else if wasInstalled && !isInstalled {
                var change = event("removed", module: id)
                change.from = before?.version
                events.append(change)
            } else if let from = before?.version, let to = after?.version, from != to {
                var change = event("updated", module: id)
                change.from = from
                change.to = to
                change.version = to
                events.append(change)
            }
            if let failure = after?.failed, failure != before?.failed {
                var change = event(failure.result, module: id)
                change.version = failure.version
                change.reason = failure.reason
                events.append(change)
            }
            if let before, let after, before.state != after.state, isInstalled, wasInstalled {
                var change = event("state", module: id)
                change.from = before.state
                change.to = after.state
                change.version = after.version
                events.append(change)
            }
        }
        return events
    }
}

/// What the fleet agent keeps across restarts, in `<state>/fleet/state.json`: the last desired
/// state it acted on and, per module it manages, where its image came from and what became of it.
/// Written when the agent acts, never for a desired state that changes nothing.
struct FleetRecord: Codable, Sendable, Equatable {
    var revision: String?
    var status: FleetReport.Desired.Status?
    var errors: [String]?
    var modules: [String: Managed] = [:]

    struct Managed: Codable, Sendable, Equatable {
        /// `image <reference>` or `channel <reference>`, or `installed` (only `enabled` is managed).
        var source: String
        var enabled: Bool
        /// What was done with the image the source last pointed at (nil for a channel, whose own
        /// file keeps that, and for `installed`).
        var outcome: FollowedChannel.Outcome?
    }

    static func path(stateDirectory: String) -> String { stateDirectory + "/fleet/state.json" }

    static func load(stateDirectory: String) -> FleetRecord? {
        guard let data = FileManager.default.contents(atPath: path(stateDirectory: stateDirectory)) else { return nil }
        return try? JSONDecoder().decode(FleetRecord.self, from: data)
    }

    func save(stateDirectory: String) throws(ModuleError) {
        try StateFiles.makeDirectory(stateDirectory + "/fleet")
        try StateFiles.writeAtomically(try OCI.encode(self), to: Self.path(stateDirectory: stateDirectory))
    }
}
