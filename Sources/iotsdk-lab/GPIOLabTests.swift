#if canImport(Glibc)
import Glibc
#endif
import IoTSDK

/// GPIO against the real kernel: gpio-sim through the character device and through sysfs.
let gpioLabTests: [LabTest] = [
    LabTest(name: "chardev.discovery.chips-by-label") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try gpio.chips()
        let a = try gpio.chip(labeled: "iotlab-a")
        let pi = try gpio.chip(labeled: "pinctrl-bcm2711")
        try expectEqual(a.lineCount, 8, "iotlab-a lines")
        try expectEqual(pi.lineCount, 58, "pinctrl-bcm2711 lines")
        try expect(a.devicePath == "/dev/\(a.name)", "device path \(String(describing: a.devicePath))")
        try expectEqual(Set(chips.map(\.name)).count, chips.count, "each chip once")
        // The sysfs base is read from the kernel, never assumed: compare with the class directory.
        let base = try readFile("/sys/class/gpio/gpiochip\(a.sysfsBase ?? -1)/base")
        try expectEqual(Int(base), a.sysfsBase, "sysfs base of iotlab-a")
        try expectEqual(try readFile("/sys/class/gpio/gpiochip\(a.sysfsBase ?? -1)/label"), "iotlab-a", "label at that base")
        print("  chips: \(chips.map { "\($0.name)[\($0.label)] base \($0.sysfsBase.map(String.init) ?? "-")" })")
    },
    LabTest(name: "chardev.discovery.line-info") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let lines = try gpio.lines(of: chips.a)
        try expectEqual(lines.count, 8)
        try expectEqual(lines[0].name, "lab-led")
        try expectEqual(lines[1].name, "lab-button")
        try expectEqual(lines[4].name, nil, "line 4 is unnamed")
        try expect(!lines[0].isUsed, "line 0 is free")
        try expect(lines[7].isUsed, "line 7 is hogged")
        try expectEqual(lines[7].consumer, "lab-hog")
        try expectEqual(lines[7].direction, .output)
        let named = try gpio.resolve(.named("lab-button"))
        try expectEqual(named.chip.label, "iotlab-a")
        try expectEqual(named.offset, 1)
    },
    LabTest(name: "chardev.bcm-pin-resolves-by-label-and-name") {
        let gpio = try GPIO.linux(.characterDevice)
        let line = try gpio.resolve(.bcm(17))
        try expectEqual(line.chip.label, "pinctrl-bcm2711")
        try expectEqual(line.offset, 17)
        try expectEqual(try gpio.lineInfo(.bcm(17)).name, "GPIO17")
        // A board whose chip is absent: the error lists the chips that are there.
        let pi5Only = GPIO(backend: gpio.backend, boards: [.raspberryPi5])
        let error = try expectError(.unknownBoard) { try pi5Only.resolve(.bcm(17)) }
        try expect(error.message.contains("iotlab-a") && error.message.contains("pinctrl-rp1"), error.message)
        // A map that points a number at a line named for another number is refused.
        let wrong = BoardDefinition(name: "shifted", chipLabel: "pinctrl-bcm2711", numbers: 0...27, offsetOfZero: 1)
        try expectError(.unknownBoard) { try GPIO(backend: gpio.backend, boards: [wrong]).resolve(.bcm(17)) }
    },
    LabTest(name: "chardev.output-drives-the-line") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let out = try gpio.output(.chip(label: "iotlab-a", offset: 2), initial: .active, consumer: "lab-out")
        try expect(try sim.driven(chips.a, 2), "initial active drives high")
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 2)).consumer, "lab-out")
        try out.set(.inactive)
        try expect(!(try sim.driven(chips.a, 2)), "inactive drives low")
        try out.set(.active)
        try expect(try sim.driven(chips.a, 2), "active drives high")
        out.release()
        let inverted = try gpio.output(.chip(label: "iotlab-a", offset: 2), initial: .inactive, activeLow: true)
        try expect(try sim.driven(chips.a, 2), "active-low inactive drives high")
        try inverted.set(.active)
        try expect(!(try sim.driven(chips.a, 2)), "active-low active drives low")
        try expect(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 2)).activeLow, "line info shows active-low")
    },
    LabTest(name: "chardev.input-follows-pull") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let input = try gpio.input(.chip(label: "iotlab-a", offset: 3))
        try sim.pull(chips.a, 3, up: true)
        try expectEqual(try input.get(), .active, "pulled up")
        try sim.pull(chips.a, 3, up: false)
        try expectEqual(try input.get(), .inactive, "pulled down")
    },
    LabTest(name: "chardev.bias") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        // gpio-sim applies a requested bias as its pull.
        let up = try gpio.input(.chip(label: "iotlab-a", offset: 5), bias: .pullUp)
        try expectEqual(try up.get(), .active, "bias pull-up reads high")
        try expectEqual(try sim.currentPull(chips.a, 5), "pull-up")
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 5)).bias, .pullUp)
        try up.reconfigure(.input(bias: .pullDown))
        try expectEqual(try up.get(), .inactive, "bias pull-down reads low")
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 5)).bias, .pullDown)
    },
    LabTest(name: "chardev.debounce-drive-and-realtime-clock") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let debounced = try gpio.input(.chip(label: "iotlab-a", offset: 3), debounce: .milliseconds(5))
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 3)).debounce, .milliseconds(5), "debounce period")
        debounced.release()
        let drain = try gpio.output(.chip(label: "iotlab-a", offset: 4), drive: .openDrain)
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 4)).drive, .openDrain, "open-drain")
        drain.release()
        // Realtime stamps are wall-clock nanoseconds: within a minute of the guest's clock.
        try sim.pull(chips.a, 1, up: false)
        let button = try gpio.input(.chip(label: "iotlab-a", offset: 1), edge: .rising, eventClock: .realtime)
        let seen = try await collect(1, from: try button.events()) {
            try sim.pull(chips.a, 1, up: true)
        }
        try sim.pull(chips.a, 1, up: false)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let wall = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        try expectEqual(seen.first?.clock, .realtime)
        let stamp = seen.first?.timestampNanoseconds ?? 0
        try expect(stamp <= wall && wall - stamp < 60_000_000_000, "realtime stamp \(stamp) vs clock \(wall)")
    },
    LabTest(name: "chardev.dropping-a-request-frees-its-lines") {
        let gpio = try GPIO.linux(.characterDevice)
        do {
            let scoped = try gpio.output(.chip(label: "iotlab-a", offset: 6), consumer: "scoped")
            try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 6)).consumer, "scoped")
            _ = scoped
        }
        try expect(!(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 6)).isUsed), "line 6 free after the request went out of scope")
    },
    LabTest(name: "chardev.several-lines-at-once") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let lines = try gpio.request([
            (.chip(label: "iotlab-a", offset: 2), .output(initial: .inactive)),
            (.chip(label: "iotlab-a", offset: 4), .output(initial: .active)),
            (.chip(label: "iotlab-a", offset: 6), .input(bias: .pullUp)),
        ], consumer: "lab-multi")
        try expect(!(try sim.driven(chips.a, 2)) && (try sim.driven(chips.a, 4)), "initial values per line")
        try lines.set([2: .active, 4: .inactive])
        try expect(try sim.driven(chips.a, 2), "line 2 high")
        try expect(!(try sim.driven(chips.a, 4)), "line 4 low")
        let values = try lines.values()
        try expectEqual(values, [2: .active, 4: .inactive, 6: .active])
        try expectError(.invalidArgument) { try lines.set(.active) }
        try expectError(.invalidArgument) { try lines.set(.active, offset: 5) }
    },
    LabTest(name: "chardev.reconfigure-output-to-input") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let line = try gpio.output(.chip(label: "iotlab-a", offset: 2), initial: .active)
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 2)).direction, .output)
        try line.reconfigure(.input())
        try expectEqual(try gpio.lineInfo(.chip(label: "iotlab-a", offset: 2)).direction, .input)
        try sim.pull(chips.a, 2, up: true)
        try expectEqual(try line.get(), .active)
        try expectError(.invalidArgument) { try line.set(.inactive) }
        try sim.pull(chips.a, 2, up: false)
    },
    LabTest(name: "chardev.edge-events-with-sequence-numbers") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        try sim.pull(chips.a, 1, up: false)
        let button = try gpio.input(.chip(label: "iotlab-a", offset: 1), edge: .both)
        let events = try button.events()
        let seen = try await collect(6, from: events) {
            for _ in 0..<3 {
                try sim.pull(chips.a, 1, up: true)
                try await Task.sleep(for: .milliseconds(20))
                try sim.pull(chips.a, 1, up: false)
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try expectEqual(seen.map(\.kind), [.rising, .falling, .rising, .falling, .rising, .falling])
        try expectEqual(seen.map(\.sequence), [1, 2, 3, 4, 5, 6], "request sequence numbers")
        try expectEqual(seen.map(\.lineSequence), [1, 2, 3, 4, 5, 6], "line sequence numbers")
        try expect(seen.allSatisfy { $0.offset == 1 && $0.clock == .monotonic }, "offset and clock")
        try expect(zip(seen, seen.dropFirst()).allSatisfy { $0.timestampNanoseconds < $1.timestampNanoseconds }, "kernel timestamps increase")
        try expect(zip(seen, seen.dropFirst()).allSatisfy { $1.eventsMissed(since: $0) == 0 }, "no events lost")
        button.release()
    },
    LabTest(name: "chardev.edge-events-rising-only-new-stream-and-release") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        try sim.pull(chips.a, 1, up: false)
        let button = try gpio.input(.chip(label: "iotlab-a", offset: 1), edge: .rising)
        let events = try button.events()
        let seen = try await collect(2, from: events) {
            for _ in 0..<2 {
                try sim.pull(chips.a, 1, up: true)
                try await Task.sleep(for: .milliseconds(20))
                try sim.pull(chips.a, 1, up: false)
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try expectEqual(seen.map(\.kind), [.rising, .rising])
        // A second stream takes over: the first one ends, the second gets the next edges.
        let second = try button.events()
        var firstEnded = true
        for try await _ in events { firstEnded = false }
        try expect(firstEnded, "the first stream ended when the second began")
        let more = try await collect(1, from: second) {
            try sim.pull(chips.a, 1, up: true)
            try await Task.sleep(for: .milliseconds(20))
            try sim.pull(chips.a, 1, up: false)
        }
        try expectEqual(more.map(\.sequence), [3], "sequence numbers continue in the new stream")
        let next = Task { () -> Int in
            var n = 0
            for try await _ in try button.events() { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(50))
        button.release()
        let drained = try await next.value
        try expectEqual(drained, 0, "events after release")
    },
    LabTest(name: "chardev.busy-line-names-its-consumer") {
        let gpio = try GPIO.linux(.characterDevice)
        let hog = try expectError(.busy) { try gpio.output(.chip(label: "iotlab-a", offset: 7)) }
        try expect(hog.message.contains("'lab-hog'"), hog.message)
        try expectEqual(hog.errno, 16, "EBUSY")
        let first = try gpio.output(.chip(label: "iotlab-a", offset: 2), consumer: "first-owner")
        let second = try expectError(.busy) { try gpio.input(.chip(label: "iotlab-a", offset: 2)) }
        try expect(second.message.contains("'first-owner'"), second.message)
        first.release()
        let again = try gpio.input(.chip(label: "iotlab-a", offset: 2))
        try expectError(.closed) { try first.set(.active) }
        again.release()
    },
    LabTest(name: "chardev.missing-line-lists-what-exists") {
        let gpio = try GPIO.linux(.characterDevice)
        let offset = try expectError(.notFound) { try gpio.output(.chip(label: "iotlab-a", offset: 8)) }
        try expect(offset.message.contains("0-7"), offset.message)
        let name = try expectError(.notFound) { try gpio.resolve(.named("no-such-line")) }
        try expect(name.message.contains("iotlab-a"), name.message)
        let chip = try expectError(.notFound) { try gpio.chip(labeled: "no-such-chip") }
        try expect(chip.message.contains("pinctrl-bcm2711"), chip.message)
    },
    LabTest(name: "sysfs.discovery-uses-the-dynamic-base") {
        let sysfs = try GPIO.linux(.sysfs)
        let cdev = try GPIO.linux(.characterDevice)
        let a = try sysfs.chip(labeled: "iotlab-a")
        let cdevA = try cdev.chip(labeled: "iotlab-a")
        try expectEqual(a.sysfsBase, cdevA.sysfsBase, "both backends agree on the base")
        try expectEqual(a.name, cdevA.name, "both backends name the chip alike")
        try expect((a.sysfsBase ?? 0) >= 512, "base \(a.sysfsBase ?? -1) comes from the kernel's dynamic range")
    },
    LabTest(name: "sysfs.export-direction-value-unexport") {
        let gpio = try GPIO.linux(.sysfs)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let number = (chips.a.sysfsBase ?? -1) + 2
        let out = try gpio.output(.chip(label: "iotlab-a", offset: 2), initial: .active)
        try expect(fileExists("/sys/class/gpio/gpio\(number)"), "gpio\(number) exported")
        try expectEqual(try readFile("/sys/class/gpio/gpio\(number)/direction"), "out")
        try expect(try sim.driven(chips.a, 2), "initial active")
        try out.set(.inactive)
        try expect(!(try sim.driven(chips.a, 2)), "set inactive")
        try out.set(.active)
        try expect(try sim.driven(chips.a, 2), "set active")
        try expectEqual(try out.get(), .active)
        out.release()
        try expect(!fileExists("/sys/class/gpio/gpio\(number)"), "gpio\(number) unexported on release")
        let low = try gpio.output(.chip(label: "iotlab-a", offset: 2), initial: .active, activeLow: true)
        try expect(!(try sim.driven(chips.a, 2)), "active-low active drives low")
        try expectEqual(try readFile("/sys/class/gpio/gpio\(number)/active_low"), "1")
        low.release()
    },
    LabTest(name: "sysfs.input-and-edge-poll") {
        let gpio = try GPIO.linux(.sysfs)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        try sim.pull(chips.a, 3, up: false)
        let input = try gpio.input(.chip(label: "iotlab-a", offset: 3), edge: .both)
        try expectEqual(try input.get(), .inactive)
        try sim.pull(chips.a, 3, up: true)
        try expectEqual(try input.get(), .active)
        try sim.pull(chips.a, 3, up: false)
        let events = try input.events()
        let seen = try await collect(4, from: events) {
            for _ in 0..<2 {
                try sim.pull(chips.a, 3, up: true)
                try await Task.sleep(for: .milliseconds(30))
                try sim.pull(chips.a, 3, up: false)
                try await Task.sleep(for: .milliseconds(30))
            }
        }
        try expectEqual(seen.map(\.kind), [.rising, .falling, .rising, .falling])
        try expectEqual(seen.map(\.sequence), [1, 2, 3, 4])
        try expect(seen.allSatisfy { $0.offset == 3 }, "offsets")
    },
    LabTest(name: "sysfs.refuses-what-it-cannot-do") {
        let gpio = try GPIO.linux(.sysfs)
        let bias = try expectError(.unsupported) { try gpio.input(.chip(label: "iotlab-a", offset: 3), bias: .pullUp) }
        try expect(bias.message.contains("character device"), bias.message)
        try expectError(.unsupported) { try gpio.output(.chip(label: "iotlab-a", offset: 2), drive: .openDrain) }
    },
    LabTest(name: "sysfs.busy-names-the-chardev-consumer") {
        let cdev = try GPIO.linux(.characterDevice)
        let sysfs = try GPIO.linux(.sysfs)
        let held = try cdev.output(.chip(label: "iotlab-a", offset: 4), consumer: "cdev-holder")
        let error = try expectError(.busy) { try sysfs.output(.chip(label: "iotlab-a", offset: 4)) }
        try expect(error.message.contains("'cdev-holder'"), error.message)
        held.release()
        let exported = try sysfs.output(.chip(label: "iotlab-a", offset: 4))
        let twice = try expectError(.busy) { try sysfs.output(.chip(label: "iotlab-a", offset: 4)) }
        try expect(twice.message.contains("already exported"), twice.message)
        exported.release()
    },
    LabTest(name: "automatic-backend-prefers-chardev") {
        try expectEqual(try GPIO.linux().backend.kind, .characterDevice)
    },
]
