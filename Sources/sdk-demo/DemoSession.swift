import IoTSDK

/// One run of the demo: the sensors read every `readInterval`, each reading stored and shown,
/// the LED following the threshold (or the button when no sensor measures it), button events,
/// the history every few seconds, and the plugin host's view of the demo module.
struct DemoSession: Sendable {
    let gpio: GPIO
    let simulator: SimulatedGPIO?
    let banner: String
    let led: Int
    let button: Int
    /// Seconds; 0 means until Ctrl-C.
    let duration: Double
    let sensors: DemoSensorSet
    let readInterval: Double
    /// nil: the LED follows the button.
    let threshold: Threshold?
    let storage: DemoStorage?
    let watch: ModuleWatch?
    let console: DemoConsole

    /// Seconds between history events (one also follows the first readings and the last).
    static let historyEvery = 10.0
    /// Seconds between looks at the plugin host.
    static let moduleEvery = 5.0

    /// The sensor whose readings drive the LED: the first that measures the threshold's quantity.
    var thresholdSensor: (any DemoSensor)? {
        guard let threshold else { return nil }
        return sensors.sensors.first { $0.quantities.contains { $0.name == threshold.quantity.name } }
    }

    /// Runs until `duration` has passed or a signal came, then turns the LED off and reports it.
    func run(stop: StopSignal) async throws {
        let ledLine = try gpio.resolve(.bcm(led))
        let buttonLine = try gpio.resolve(.bcm(button))
        let ledRequest = try gpio.output(.bcm(led), initial: .inactive, consumer: "sdk-demo-led")
        let buttonRequest = try gpio.input(.bcm(button), bias: .pullUp, edge: .both,
                                           debounce: simulator == nil ? .milliseconds(10) : nil,
                                           activeLow: true, consumer: "sdk-demo-button")
        defer {
            ledRequest.release()
            buttonRequest.release()
        }
        let driver = thresholdSensor
        let rule = driver.flatMap { _ in threshold }
        await console.emit(.start(DemoStart(
            banner: banner, simulated: simulator != nil, backend: gpio.backend.kind.rawValue, led: led, ledLine: "\(ledLine)",
            button: button, buttonLine: "\(buttonLine)", sensors: sensors.sensors, threshold: rule,
            thresholdSensor: driver?.label, database: storage?.path, duration: duration)))

        let clock = ContinuousClock()
        let start = clock.now
        /// Seconds since the start, to the millisecond.
        @Sendable func elapsed() -> Double {
            let time = clock.now - start
            return ((Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18) * 1000).rounded() / 1000
        }
        let lights = ReportingLED(request: ledRequest, line: ledLine, simulator: simulator)
        let events = try buttonRequest.events()

        let signal = await withTaskGroup(of: Void.self) { group in
            group.addTask { await watchButton(events, lights: driver == nil ? lights : nil, elapsed: elapsed) }
            if !sensors.sensors.isEmpty {
                group.addTask { await readSensors(lights: driver.flatMap { sensor in rule.map { (sensor, $0, lights) } }, elapsed: elapsed) }
            }
            if let simulator {
                group.addTask { await pressNowAndThen(simulator, chip: buttonLine.chip.label, offset: buttonLine.offset) }
            }
            if let watch {
                group.addTask { await followModule(watch, elapsed: elapsed) }
            }
            let signal = await stop.wait(seconds: duration)
            group.cancelAll()
            buttonRequest.release()
            await group.waitForAll()
            return signal
        }

        // Leave the LED off, whatever stopped the demo.
        try ledRequest.set(.inactive)
        let pinHigh = try simulator?.level(chip: ledLine.chip.label, offset: ledLine.offset)
        if let storage { await reportHistory(storage, at: elapsed()) }
        await console.emit(.stop(at: elapsed(), signal: signal, pinHigh: pinHigh))
    }

    // MARK: - The parts that run at once

    /// Reads every sensor each `readInterval`: stores, shows and compares each reading.
    private func readSensors(lights: (sensor: any DemoSensor, threshold: Threshold, led: ReportingLED)?, elapsed: @escaping @Sendable () -> Double) async {
        var lastHistory: Double?
        var next = ContinuousClock.now
        while !Task.isCancelled {
            sensors.tick?(elapsed())
            for sensor in sensors.sensors {
                let sample: DemoSample
                do {
                    sample = try await sensor.read()
                } catch {
                    // A reading cut short by the end of the run is no sensor failure.
                    if Task.isCancelled || error is CancellationError { return }
                    await console.emit(.failed(at: elapsed(), source: sensor.id, label: sensor.label, message: "\(error)"))
                    continue
                }
                if let storage {
                    do { try await storage.append(sample, from: sensor.id) } catch {
                        await console.emit(.failed(at: elapsed(), source: "storage", label: "storage", message: "\(error)"))
                    }
                }
                await console.emit(.reading(at: elapsed(), sensor: sensor, sample: sample))
                if let lights, lights.sensor.id == sensor.id,
                   let value = sample.values.first(where: { $0.quantity.name == lights.threshold.quantity.name }) {
                    let threshold = lights.threshold
                    let on = threshold.isMet(byBaseValue: value.baseValue)
                    let reason = "\(threshold.quantity.name) \(value.text) \(on ? "" : "not ")\(threshold.comparison.rawValue) \(threshold.quantity.format(threshold.quantity.baseValue(threshold.value)))"
                    await lights.led.set(on, reason: reason, at: elapsed, console: console)
                }
            }
            if let storage, lastHistory.map({ elapsed() - $0 >= Self.historyEvery }) ?? true {
                lastHistory = elapsed()
                await reportHistory(storage, at: elapsed())
            }
            // On a fixed schedule, so that the time a reading takes does not add up.
            next += .milliseconds(Int64(readInterval * 1000))
            if next < .now { next = .now }
            do { try await Task.sleep(until: next, clock: .continuous) } catch { return }
        }
    }

    private func reportHistory(_ storage: DemoStorage, at: Double) async {
        do {
            let series = sensors.sensors.flatMap { sensor in sensor.quantities.map { (sensor.id, $0) } }
            await console.emit(.history(at: at, try await storage.history(now: try Timestamp.now(), of: series)))
        } catch {
            await console.emit(.failed(at: at, source: "storage", label: "storage", message: "\(error)"))
        }
    }

    /// Reports each button event; with `lights`, the LED follows the button.
    private func watchButton(_ events: GPIOEdgeEvents, lights: ReportingLED?, elapsed: @escaping @Sendable () -> Double) async {
        var last: GPIOEdgeEvent?
        var presses = 0
        do {
            for try await event in events {
                if let last, event.eventsMissed(since: last) > 0 {
                    await console.emit(.buttonEventsLost(at: elapsed(), count: Int(event.eventsMissed(since: last))))
                }
                last = event
                let pressed = event.kind == .rising
                if pressed { presses += 1 }
                await console.emit(.button(at: elapsed(), pressed: pressed, presses: presses))
                await lights?.set(pressed, reason: pressed ? "button pressed" : "button released", at: elapsed, console: console)
            }
        } catch {
            if !Task.isCancelled {
                await console.emit(.failed(at: elapsed(), source: "button", label: "button", message: "\(error)"))
            }
        }
    }

    /// A simulated finger: presses the button for 150 ms every 2.3 s (it pulls the line to ground).
    private func pressNowAndThen(_ simulator: SimulatedGPIO, chip: String, offset: UInt32) async {
        do {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(2150))
                try simulator.drive(chip: chip, offset: offset, to: false)
                try await Task.sleep(for: .milliseconds(150))
                try simulator.drive(chip: chip, offset: offset, to: nil)
            }
        } catch {}
    }

    /// Looks at the plugin host now and every few seconds; reports what changed.
    private func followModule(_ watch: ModuleWatch, elapsed: @escaping @Sendable () -> Double) async {
        var last: ModuleReport?
        while !Task.isCancelled {
            let report = await watch.check()
            if report != last, !Task.isCancelled {
                await console.emit(.module(at: elapsed(), report))
                last = report
            }
            do { try await Task.sleep(for: .milliseconds(Int64(Self.moduleEvery * 1000))) } catch { return }
        }
    }
}

/// The LED: set only when its state changes, each change reported with its reason.
actor ReportingLED {
    private let request: GPIOLineRequest
    private let line: ResolvedLine
    private let simulator: SimulatedGPIO?
    private var isOn: Bool?

    init(request: GPIOLineRequest, line: ResolvedLine, simulator: SimulatedGPIO?) {
        self.request = request
        self.line = line
        self.simulator = simulator
    }

    func set(_ on: Bool, reason: String, at elapsed: @Sendable () -> Double, console: DemoConsole) async {
        guard on != isOn else { return }
        do {
            try request.set(on ? .active : .inactive)
            isOn = on
            let pinHigh = try simulator?.level(chip: line.chip.label, offset: line.offset)
            await console.emit(.led(at: elapsed(), on: on, pinHigh: pinHigh, reason: reason))
        } catch {
            await console.emit(.failed(at: elapsed(), source: "led", label: "LED", message: "\(error)"))
        }
    }
}
