import Testing
@testable import IoTSDK

@Suite("Simulated GPIO behind the public API")
struct SimulatedGPIOTests {
    let board = SimulatedGPIO(chips: [
        .raspberryPi4,
        SimulatedChipSpec(label: "expander", lineCount: 4, lineNames: [0: "relay"]),
    ])
    var gpio: GPIO { .simulated(board) }

    @Test func bcmResolvesOnTheRaspberryPiChip() throws {
        let line = try gpio.resolve(.bcm(17))
        #expect(line.chip.label == "pinctrl-bcm2711")
        #expect(line.offset == 17)
        #expect(try gpio.lineInfo(.bcm(17)).name == "GPIO17")
    }

    @Test func bcmOutOfRangeNamesTheRange() throws {
        let error = #expect(throws: HardwareError.self) { try gpio.resolve(.bcm(60)) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("0-57") == true)
    }

    @Test func unknownBoardListsTheChipsFound() throws {
        let other = GPIO.simulated(SimulatedGPIO(chips: [SimulatedChipSpec(label: "gpio-mockup-A", lineCount: 8)]))
        let error = #expect(throws: HardwareError.self) { try other.resolve(.bcm(17)) }
        #expect(error?.code == .unknownBoard)
        #expect(error?.message.contains("gpio-mockup-A") == true)
        #expect(error?.message.contains("pinctrl-rp1") == true)
    }

    @Test func lineNamedForAnotherNumberIsAMismatch() throws {
        let shifted = BoardDefinition(name: "shifted", chipLabel: "pinctrl-bcm2711", numbers: 0...27, offsetOfZero: 1)
        let error = #expect(throws: HardwareError.self) { try GPIO(backend: board, boards: [shifted]).resolve(.bcm(3)) }
        #expect(error?.code == .unknownBoard)
        #expect(error?.message.contains("GPIO4") == true)
    }

    @Test func namedAndLabelledSelectors() throws {
        let relay = try gpio.resolve(.named("relay"))
        #expect(relay.chip.label == "expander" && relay.offset == 0)
        #expect(try gpio.resolve(.chip(label: "expander", offset: 3)).offset == 3)
        #expect(try gpio.resolve(.chipName("gpiochip1", offset: 2)).chip.label == "expander")
        let missing = #expect(throws: HardwareError.self) { try gpio.resolve(.chip(label: "expander", offset: 4)) }
        #expect(missing?.message.contains("0-3") == true)
    }

    @Test func outputDrivesThePinAndRespectsActiveLow() throws {
        let led = try gpio.output(.bcm(17), initial: .active)
        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 17) == true)
        try led.set(.inactive)
        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 17) == false)
        led.release()
        let inverted = try gpio.output(.bcm(17), initial: .active, activeLow: true)
        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 17) == false)
        #expect(try inverted.get() == .active)
    }

    @Test func inputFollowsOutsideLevelAndBias() throws {
        let input = try gpio.input(.bcm(27), bias: .pullUp)
        #expect(try input.get() == .active)
        try board.drive(chip: "pinctrl-bcm2711", offset: 27, to: false)
        #expect(try input.get() == .inactive)
        try board.drive(chip: "pinctrl-bcm2711", offset: 27, to: nil)
        #expect(try input.get() == .active)
    }

    @Test func busyLineNamesItsConsumer() throws {
        let first = try gpio.output(.bcm(5), consumer: "heater")
        let error = #expect(throws: HardwareError.self) { try gpio.input(.bcm(5)) }
        #expect(error?.code == .busy)
        #expect(error?.message.contains("'heater'") == true)
        #expect(try gpio.lineInfo(.bcm(5)).consumer == "heater")
        first.release()
        #expect(try gpio.lineInfo(.bcm(5)).isUsed == false)
        _ = try gpio.input(.bcm(5))
        let closed = #expect(throws: HardwareError.self) { try first.set(.active) }
        #expect(closed?.code == .closed)
    }

    @Test func invalidSettingsAreRefusedBeforeTheBackend() throws {
        let edgeOnOutput = #expect(throws: HardwareError.self) {
            try gpio.request([(.bcm(4), LineSettings(direction: .output, edge: .both))])
        }
        #expect(edgeOnOutput?.code == .invalidArgument)
        let twice = #expect(throws: HardwareError.self) { try gpio.request([.bcm(4), .bcm(4)], .input()) }
        #expect(twice?.code == .invalidArgument)
        let chips = #expect(throws: HardwareError.self) {
            try gpio.request([.bcm(4), .chip(label: "expander", offset: 0)], .input())
        }
        #expect(chips?.message.contains("different chips") == true)
        #expect(try gpio.lineInfo(.bcm(4)).isUsed == false)
    }

    @Test func severalLinesAtOnce() throws {
        let lines = try gpio.request([
            (.bcm(2), .output(initial: .active)), (.bcm(3), .output()), (.bcm(4), .input(bias: .pullUp)),
        ])
        #expect(try lines.values() == [2: .active, 3: .inactive, 4: .active])
        try lines.set([2: .inactive, 3: .active])
        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 2) == false)
        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 3) == true)
        #expect(throws: HardwareError.self) { try lines.set(.active) }
        let inputSet = #expect(throws: HardwareError.self) { try lines.set(.active, offset: 4) }
        #expect(inputSet?.code == .invalidArgument)
    }

    @Test func edgeEventsCarrySequenceNumbersAndLogicalKinds() async throws {
        let button = try gpio.input(.bcm(27), bias: .pullUp, edge: .both, activeLow: true)
        let events = try button.events()
        for _ in 0..<2 {
            try board.drive(chip: "pinctrl-bcm2711", offset: 27, to: false)
            try board.drive(chip: "pinctrl-bcm2711", offset: 27, to: true)
        }
        button.release()
        var seen: [GPIOEdgeEvent] = []
        for try await event in events { seen.append(event) }
        // Pressing pulls the active-low line to ground: a logical rising edge.
        #expect(seen.map(\.kind) == [.rising, .falling, .rising, .falling])
        #expect(seen.map(\.sequence) == [1, 2, 3, 4])
        #expect(seen.map(\.lineSequence) == [1, 2, 3, 4])
        #expect(seen.allSatisfy { $0.offset == 27 })
    }

    @Test func eventsNeedEdgeDetection() throws {
        let plain = try gpio.input(.bcm(22))
        let none = #expect(throws: HardwareError.self) { try plain.events() }
        #expect(none?.code == .invalidArgument)
    }

    @Test func aNewEventStreamEndsThePreviousOne() async throws {
        let edged = try gpio.input(.bcm(23), edge: .rising)
        let first = try edged.events()
        let second = try edged.events()
        var firstCount = 0
        for try await _ in first { firstCount += 1 }
        #expect(firstCount == 0)
        try board.drive(chip: "pinctrl-bcm2711", offset: 23, to: true)
        edged.release()
        var seen: [GPIOEdgeEvent] = []
        for try await event in second { seen.append(event) }
        #expect(seen.map(\.kind) == [.rising])
        let closed = #expect(throws: HardwareError.self) { try edged.events() }
        #expect(closed?.code == .closed)
    }

    @Test func reconfigureTurnsAnOutputIntoAnInput() throws {
        let line = try gpio.output(.bcm(6), initial: .active)
        try line.reconfigure(.input(bias: .pullDown))
        #expect(try line.get() == .inactive)
        #expect(try gpio.lineInfo(.bcm(6)).direction == .input)
        #expect(line.settings[0].bias == .pullDown)
    }

    @Test func missedEventsAreCountedFromSequenceGaps() {
        let a = GPIOEdgeEvent(kind: .rising, offset: 1, timestampNanoseconds: 10, clock: .monotonic, sequence: 4, lineSequence: 4)
        let b = GPIOEdgeEvent(kind: .falling, offset: 1, timestampNanoseconds: 20, clock: .monotonic, sequence: 7, lineSequence: 7)
        #expect(b.eventsMissed(since: a) == 2)
        #expect(a.eventsMissed(since: a) == 0)
    }
}
