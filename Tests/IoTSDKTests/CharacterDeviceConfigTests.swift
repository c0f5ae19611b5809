import CIoTLinux
import Testing
@testable import IoTSDK

/// The uAPI v2 line config the character-device backend builds, checked field by field against
/// the rules in <linux/gpio.h>: default flags for most lines, attributes with masks for the rest.
@Suite("uAPI v2 line configuration")
struct CharacterDeviceConfigTests {
    let chip = GPIOChipInfo(name: "gpiochip0", label: "test", lineCount: 8)

    /// The attributes of a config as (id, flags, values, debounce, mask).
    func attributes(_ config: ciot_gpio_v2_line_config) -> [(UInt32, UInt64, UInt64, UInt32, UInt64)] {
        withUnsafeBytes(of: config.attrs) { raw in
            let attrs = raw.bindMemory(to: gpio_v2_line_config_attribute.self)
            return (0..<Int(config.num_attrs)).map { i in
                let a = attrs[i]
                switch a.attr.id {
                case CIOT_GPIO_V2_LINE_ATTR_ID_FLAGS: return (a.attr.id, a.attr.flags, 0, 0, a.mask)
                case CIOT_GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES: return (a.attr.id, 0, a.attr.values, 0, a.mask)
                default: return (a.attr.id, 0, 0, a.attr.debounce_period_us, a.mask)
                }
            }
        }
    }

    @Test func singleOutputUsesDefaultFlagsAndAnOutputValue() throws {
        let config = try CharacterDeviceGPIO.makeConfig([.output(initial: .active)], chip: chip)
        #expect(config.flags == CIOT_GPIO_V2_LINE_FLAG_OUTPUT)
        let attrs = attributes(config)
        #expect(attrs.count == 1)
        #expect(attrs[0].0 == CIOT_GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES)
        #expect(attrs[0].2 == 1 && attrs[0].4 == 1)
    }

    @Test func inputFlagsCarryBiasEdgesActiveLowAndClock() throws {
        let config = try CharacterDeviceGPIO.makeConfig(
            [.input(bias: .pullUp, edge: .both, activeLow: true, eventClock: .realtime)], chip: chip)
        #expect(config.flags == CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP
            | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING
            | CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW | CIOT_GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME)
        #expect(config.num_attrs == 0)
    }

    @Test func mixedLinesGetMaskedAttributes() throws {
        let config = try CharacterDeviceGPIO.makeConfig([
            .input(debounce: .milliseconds(5)),
            .output(initial: .active, drive: .openDrain),
            .input(),
            .output(initial: .inactive),
        ], chip: chip)
        // Inputs (lines 0 and 2) are the most common setting: they become the default.
        #expect(config.flags == CIOT_GPIO_V2_LINE_FLAG_INPUT)
        let attrs = attributes(config)
        let flags = attrs.filter { $0.0 == CIOT_GPIO_V2_LINE_ATTR_ID_FLAGS }
        #expect(flags.count == 2)
        #expect(flags.contains { $0.1 == CIOT_GPIO_V2_LINE_FLAG_OUTPUT | CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN && $0.4 == 0b0010 })
        #expect(flags.contains { $0.1 == CIOT_GPIO_V2_LINE_FLAG_OUTPUT && $0.4 == 0b1000 })
        let outputs = attrs.filter { $0.0 == CIOT_GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES }
        #expect(outputs.count == 1 && outputs[0].2 == 0b0010 && outputs[0].4 == 0b1010)
        let debounce = attrs.filter { $0.0 == CIOT_GPIO_V2_LINE_ATTR_ID_DEBOUNCE }
        #expect(debounce.count == 1 && debounce[0].3 == 5000 && debounce[0].4 == 0b0001)
    }

    @Test func tooManyDistinctSettingsAreRefused() {
        // Eleven distinct debounce periods need eleven attributes; the kernel has ten slots.
        let settings = (1...11).map { LineSettings.input(debounce: .microseconds($0)) }
        let error = #expect(throws: HardwareError.self) { try CharacterDeviceGPIO.makeConfig(settings, chip: chip) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("split") == true)
    }

    @Test func lineInfoDecodesFlagsAndDebounce() {
        var info = ciot_gpio_v2_line_info()
        withUnsafeMutableBytes(of: &info.name) { raw in
            for (i, byte) in "GPIO17".utf8.enumerated() { raw[i] = byte }
        }
        info.offset = 17
        info.flags = CIOT_GPIO_V2_LINE_FLAG_USED | CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN
            | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING
        info.num_attrs = 1
        withUnsafeMutableBytes(of: &info.attrs) { raw in
            let attrs = raw.bindMemory(to: gpio_v2_line_attribute.self)
            attrs[0].id = CIOT_GPIO_V2_LINE_ATTR_ID_DEBOUNCE
            attrs[0].debounce_period_us = 2500
        }
        let line = CharacterDeviceGPIO.decode(info, chip: "gpiochip0")
        #expect(line.name == "GPIO17")
        #expect(line.isUsed && line.consumer == "kernel")
        #expect(line.direction == .input && line.bias == .pullDown && line.edge == .falling)
        #expect(line.debounce == .microseconds(2500))
    }
}
