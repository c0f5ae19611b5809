import IoTSDK

/// What the demo reports, in the order it happens; each output mode renders it
/// (plain lines, `--json` lines, or the terminal dashboard).
enum DemoEvent: Sendable {
    /// The first thing reported: where the demo runs and what it does.
    case start(DemoStart)
    case reading(at: Double, sensor: any DemoSensor, sample: DemoSample)
    /// A sensor, the storage or the LED failed; `source` is the sensor's id, `storage` or `led`.
    case failed(at: Double, source: String, label: String, message: String)
    /// The LED changed; `pinHigh` is the simulated pin's level (nil on hardware).
    case led(at: Double, on: Bool, pinHigh: Bool?, reason: String)
    case button(at: Double, pressed: Bool, presses: Int)
    case buttonEventsLost(at: Double, count: Int)
    /// `at` is nil for `sdk-demo history`, which reports outside a run.
    case history(at: Double?, [SeriesSummary])
    case module(at: Double?, ModuleReport)
    /// The last thing reported: the LED is off (`pinHigh`: the simulated pin's level, nil on
    /// hardware); `signal` names what stopped the demo early.
    case stop(at: Double, signal: String?, pinHigh: Bool?)
}

/// What the demo says before it starts.
struct DemoStart: Sendable {
    /// The first line: the board, and why it is the simulated one.
    var banner: String
    var simulated: Bool
    var backend: String
    var led: Int
    var ledLine: String
    var button: Int
    var buttonLine: String
    var sensors: [any DemoSensor]
    /// nil when the LED follows the button (no sensor measures the threshold's quantity).
    var threshold: Threshold?
    var thresholdSensor: String?
    /// nil with --no-storage.
    var database: String?
    /// Seconds; 0 until Ctrl-C.
    var duration: Double
}

// MARK: - Plain lines

extension DemoEvent {
    /// The event as plain lines (no escape sequences), each stamped with the seconds since start.
    var plainLines: [String] {
        switch self {
        case .start(let start):
            var lines = [start.banner,
                         "LED on BCM \(start.led) (\(start.ledLine)), button on BCM \(start.button) (\(start.buttonLine)), backend \(start.backend)"]
            lines += start.sensors.map { "Sensor: \($0.label)" }
            if let threshold = start.threshold, let sensor = start.thresholdSensor {
                lines.append("LED: on while \(threshold) (\(sensor)).")
            } else {
                lines.append("LED: follows the button.")
            }
            lines.append(start.database.map { "Readings stored in \($0); history: min/max/mean of the last hour." }
                         ?? "Readings not stored (--no-storage).")
            lines.append(start.duration > 0 ? "Running for \(format(start.duration)) s; Ctrl-C stops early." : "Running until Ctrl-C.")
            return lines
        case .reading(let at, let sensor, let sample):
            return ["\(stamp(at))\(sensor.label): \(sample.text)"]
        case .failed(let at, _, let label, let message):
            return ["\(stamp(at))\(label): \(message)"]
        case .led(let at, let on, let pinHigh, let reason):
            return ["\(stamp(at))LED \(on ? "on" : "off")" + (pinHigh.map { $0 ? " (pin high)" : " (pin low)" } ?? "") + ": \(reason)"]
        case .button(let at, let pressed, let presses):
            return ["\(stamp(at))" + (pressed ? "button pressed (press #\(presses))" : "button released")]
        case .buttonEventsLost(let at, let count):
            return ["\(stamp(at))(\(count) button events were lost)"]
        case .history(let at, let summaries):
            return summaries.isEmpty ? ["\(stamp(at))history, last hour: no readings yet"]
                : summaries.map { "\(stamp(at))history, last hour: \($0.text)" }
        case .module(let at, let report):
            return ["\(stamp(at))plugin host: \(report.summary)"] + (report.fix.map { ["\(stamp(at))  next step: \($0)"] } ?? [])
                + (report.report ?? "").split(separator: "\n").map { "\(stamp(at))  \($0)" }
        case .stop(let at, let signal, _):
            return ["\(stamp(at))LED off; \(signal.map { "stopped by \($0)" } ?? "done")."]
        }
    }

    /// `[1.25s] `, or nothing outside a run.
    private func stamp(_ seconds: Double?) -> String { seconds.map { "[" + format($0) + "s] " } ?? "" }
}

// MARK: - JSON lines

extension DemoEvent {
    /// The event as JSON objects, one a line; the keys are documented in Documentation/Demo.md.
    var jsonLines: [String] {
        switch self {
        case .start(let start):
            var object = JSONObject().add("type", "start").add("message", start.banner).add("simulated", start.simulated)
                .add("backend", start.backend).add("led", start.led).add("button", start.button)
                .add("sensors", start.sensors.map { JSONObject().add("sensor", $0.id).add("label", $0.label) })
            if let threshold = start.threshold {
                object = object.add("threshold", JSONObject().add("quantity", threshold.quantity.name)
                    .add("comparison", threshold.comparison.rawValue).add("value", threshold.value).add("unit", threshold.quantity.unit)
                    .add("sensor", start.thresholdSensor))
            }
            return [object.add("ledFollows", start.threshold == nil ? "button" : "threshold")
                .add("database", start.database).add("duration", start.duration).text]
        case .reading(let at, let sensor, let sample):
            return sample.values.map { value in
                JSONObject().add("type", "reading").add("t", at).add("time", "\(sample.timestamp)").add("sensor", sensor.id)
                    .add("quantity", value.quantity.name).add("value", rounded(value.value)).add("unit", value.quantity.unit)
                    .add("text", value.text).text
            }
        case .failed(let at, let source, _, let message):
            return [JSONObject().add("type", "error").add("t", at).add("source", source).add("message", message).text]
        case .led(let at, let on, let pinHigh, let reason):
            return [JSONObject().add("type", "led").add("t", at).add("state", on ? "on" : "off").add("pinHigh", pinHigh)
                .add("reason", reason).text]
        case .button(let at, let pressed, let presses):
            return [JSONObject().add("type", "button").add("t", at).add("event", pressed ? "pressed" : "released")
                .add("presses", presses).text]
        case .buttonEventsLost(let at, let count):
            return [JSONObject().add("type", "button").add("t", at).add("event", "lost").add("count", count).text]
        case .history(let at, let summaries):
            return summaries.map { summary in
                JSONObject().add("type", "history").add("t", at).add("sensor", summary.sensor).add("quantity", summary.quantity.name)
                    .add("windowSeconds", Int(DemoStorage.window.components.seconds)).add("count", summary.count).add("min", rounded(summary.quantity.value(summary.min)))
                    .add("max", rounded(summary.quantity.value(summary.max))).add("mean", rounded(summary.quantity.value(summary.mean)))
                    .add("unit", summary.quantity.unit).text
            }
        case .module(let at, let report):
            return [JSONObject().add("type", "module").add("t", at).add("module", ModuleReport.moduleID).add("step", report.step.rawValue)
                .add("summary", report.summary).add("fix", report.fix).add("state", report.state).add("sandboxed", report.sandboxed)
                .add("report", report.report).text]
        case .stop(let at, let signal, let pinHigh):
            return [JSONObject().add("type", "stop").add("t", at).add("led", "off").add("pinHigh", pinHigh)
                .add("reason", signal == nil ? "done" : "signal").add("signal", signal).text]
        }
    }
}

/// A value to six decimals: what survives the round trip through base units (kelvin, pascal)
/// without the binary noise (`23.939999999999998`).
private func rounded(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }

/// A JSON object written with its keys in the order they were added; nil values are left out.
struct JSONObject {
    private var members: [String] = []

    func add(_ key: String, _ value: String?) -> JSONObject { adding(key, value.map(Self.quote)) }
    func add(_ key: String, _ value: Double?) -> JSONObject { adding(key, value.map { $0.isFinite ? "\($0)" : "null" }) }
    func add(_ key: String, _ value: Int?) -> JSONObject { adding(key, value.map { "\($0)" }) }
    func add(_ key: String, _ value: Bool?) -> JSONObject { adding(key, value.map { $0 ? "true" : "false" }) }
    func add(_ key: String, _ value: JSONObject) -> JSONObject { adding(key, value.text) }
    func add(_ key: String, _ values: [JSONObject]) -> JSONObject { adding(key, "[" + values.map(\.text).joined(separator: ",") + "]") }

    private func adding(_ key: String, _ json: String?) -> JSONObject {
        guard let json else { return self }
        var copy = self
        copy.members.append(Self.quote(key) + ":" + json)
        return copy
    }

    var text: String { "{" + members.joined(separator: ",") + "}" }

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259, section 7).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
