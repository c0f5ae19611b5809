/// The dashboard's state, updated by each event, and the fixed block of lines it shows.
struct Dashboard {
    var color = false
    private var start: DemoStart?
    private var now = 0.0
    private var led: (on: Bool, reason: String)?
    private var buttonDown = false
    private var presses = 0
    /// The last reading of each sensor, by sensor id, in the order the sensors were given.
    private var readings: [String: String] = [:]
    private var history: [SeriesSummary] = []
    private var module: ModuleReport?
    /// The last few events worth a line of their own: button, LED, errors.
    private var log: [(text: String, failure: Bool)] = []
    private static let logLength = 5

    mutating func update(_ event: DemoEvent) {
        switch event {
        case .start(let start):
            self.start = start
        case .reading(let at, let sensor, let sample):
            now = at
            readings[sensor.id] = sample.text
        case .failed(let at, _, _, _):
            now = at
            remember(event, failure: true)
        case .buttonEventsLost(let at, _):
            now = at
            remember(event)
        case .led(let at, let on, _, let reason):
            now = at
            led = (on, reason)
            remember(event)
        case .button(let at, let pressed, let presses):
            now = at
            buttonDown = pressed
            self.presses = presses
            remember(event)
        case .history(let at, let summaries):
            now = at ?? now
            history = summaries
        case .module(let at, let report):
            now = at ?? now
            module = report
        case .stop(let at, _, _):
            now = at
            led = (false, "left off at the end")
        }
    }

    private mutating func remember(_ event: DemoEvent, failure: Bool = false) {
        log.append(contentsOf: event.plainLines.map { ($0, failure) })
        log.removeFirst(max(0, log.count - Self.logLength))
    }

    /// The block, each line cut to `width` columns.
    func lines(width: Int) -> [String] {
        guard let start else { return [] }
        var lines: [Line] = []
        let ledState = led.map { $0.on ? Line.Part("ON ", .good) : Line.Part("off", .plain) } ?? Line.Part("off", .plain)
        lines.append(Line([.init("LED      BCM \(start.led): ", .label), ledState, .init(led.map { "  \($0.reason)" } ?? "  (no reading yet)", .plain)]))
        lines.append(Line([.init("Button   BCM \(start.button): ", .label), .init(buttonDown ? "pressed " : "released", .plain),
                           .init("  \(presses) press\(presses == 1 ? "" : "es")", .plain)]))
        for sensor in start.sensors {
            lines.append(Line([.init("Sensor   ", .label), .init("\(sensor.label): \(readings[sensor.id] ?? "…")", .plain)]))
        }
        if let database = start.database {
            lines.append(Line([.init("History  ", .label), .init("last hour, in \(database)", .plain)]))
            let nameWidth = history.map { $0.series.count }.max() ?? 0
            for summary in history {
                let name = summary.series + String(repeating: " ", count: nameWidth - summary.series.count)
                let q = summary.quantity
                lines.append(Line([.init("  \(name)  min \(q.format(summary.min))  max \(q.format(summary.max))  mean \(q.format(summary.mean))  (\(summary.count))", .plain)]))
            }
            if history.isEmpty { lines.append(Line([.init("  no readings yet", .plain)])) }
        } else {
            lines.append(Line([.init("History  ", .label), .init("off (--no-storage)", .plain)]))
        }
        if let module {
            let style: Line.Style = module.step == .running ? .good : (module.step == .error ? .bad : .plain)
            lines.append(Line([.init("Module   ", .label), .init(module.summary, style)]))
            if let fix = module.fix { lines.append(Line([.init("  next step: ", .label), .init(fix, .plain)])) }
            for part in (module.report ?? "").split(separator: "\n") { lines.append(Line([.init("  " + part, .plain)])) }
        }
        lines.append(Line([.init("Events", .label)]))
        lines += log.map { Line([.init("  " + $0.text, $0.failure ? .bad : .plain)]) }
        let limit = start.duration > 0 ? "of \(format(start.duration)) s" : "until Ctrl-C"
        lines.append(Line([.init("[\(format(now))s \(limit)] Ctrl-C stops; the LED is left off.", .label)]))
        return lines.map { $0.render(width: width, color: color) }
    }
}

/// A dashboard line: parts of text with a style, cut to the terminal's width before the color
/// codes go in, so that a long line never wraps and upsets the redraw.
private struct Line {
    enum Style { case plain, label, good, bad }

    struct Part {
        var text: String
        var style: Style
        init(_ text: String, _ style: Style) {
            self.text = text
            self.style = style
        }
    }

    var parts: [Part]
    init(_ parts: [Part]) { self.parts = parts }

    func render(width: Int, color: Bool) -> String {
        var room = max(1, width - 1)
        var out = ""
        for part in parts where room > 0 {
            let text = String(part.text.prefix(room))
            room -= text.count
            guard color else { out += text; continue }
            switch part.style {
            case .plain: out += text
            case .label: out += "\u{1B}[1m" + text + "\u{1B}[0m"
            case .good: out += "\u{1B}[1;32m" + text + "\u{1B}[0m"
            case .bad: out += "\u{1B}[31m" + text + "\u{1B}[0m"
            }
        }
        return out
    }
}
