import ArgumentParser
import HostUplink
import LinuxSupport
import Logging
import MQTTClient
import PluginHost

/// `run`'s options for the device's broker connection, through which modules publish and
/// subscribe (Documentation/Runtime.md, "MQTT through the host"). Without `--mqtt-url` the host
/// has no uplink and modules get -ENOTCONN.
struct UplinkFlags: ParsableArguments {
    @Option(help: ArgumentHelp("The MQTT broker modules publish and subscribe through: mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (8883, with --mqtt-ca). Without it modules get ENOTCONN.",
                               valueName: "url"))
    var mqttURL: String?

    @Option(help: ArgumentHelp("The client id the broker keeps the session under (default: the device id).", valueName: "id"))
    var mqttClientID: String?

    @Option(help: ArgumentHelp("What {device} stands for in the modules' topic filters: one topic level (default: the first 12 characters of /etc/machine-id, or the host name).",
                               valueName: "id"))
    var deviceID: String?

    @Option(help: ArgumentHelp("The CA certificate (PEM) that verifies the broker; required for mqtts://.", valueName: "file"))
    var mqttCA: String?

    @Option(help: ArgumentHelp("The device's client certificate (PEM), for mutual TLS; with --mqtt-key.", valueName: "file"))
    var mqttCert: String?

    @Option(help: ArgumentHelp("The key of --mqtt-cert (PEM).", valueName: "file"))
    var mqttKey: String?

    @Option(help: ArgumentHelp("The user name the broker checks.", valueName: "name"))
    var mqttUsername: String?

    @Option(help: ArgumentHelp("A file whose first line is the broker password (never give a password on the command line); needs --mqtt-username.",
                               valueName: "file"))
    var mqttPasswordFile: String?

    @Option(help: ArgumentHelp("Put in front of every module topic and of the status topic on the broker, e.g. 'fleet-a/'.", valueName: "prefix"))
    var mqttTopicPrefix = ""

    @Option(help: ArgumentHelp("The bytes (payload and topic) of messages each module may have queued for the broker; beyond them its publishes fail with EDQUOT.",
                               valueName: "bytes"))
    var mqttModuleQuota: Int64 = 1 << 20

    func validate() throws {
        guard let mqttURL else {
            let given = [("--mqtt-client-id", mqttClientID), ("--mqtt-ca", mqttCA), ("--mqtt-cert", mqttCert), ("--mqtt-key", mqttKey),
                         ("--mqtt-username", mqttUsername), ("--mqtt-password-file", mqttPasswordFile)].compactMap { $0.1 == nil ? nil : $0.0 }
            if let first = given.first { throw ValidationError("\(first) needs --mqtt-url: give the broker to connect to") }
            return
        }
        do throws(MQTTError) {
            _ = try MQTTBroker(url: mqttURL)
        } catch {
            throw ValidationError("--mqtt-url \(mqttURL): \(error.message)")
        }
        guard let device = deviceID ?? HostMessaging.defaultDeviceID() else {
            throw ValidationError("no device id: /etc/machine-id is missing and the host name cannot stand in a topic; give --device-id")
        }
        if let problem = TopicRights.idProblem(device) {
            throw ValidationError("--device-id '\(device)' cannot stand for {device} in a topic: \(problem); give one topic level, e.g. pi-0042")
        }
        if let mqttPasswordFile, mqttUsername == nil {
            throw ValidationError("--mqtt-password-file \(mqttPasswordFile) needs --mqtt-username")
        }
        if let mqttPasswordFile, !Files.exists(mqttPasswordFile) {
            throw ValidationError("--mqtt-password-file \(mqttPasswordFile) does not exist")
        }
        if mqttModuleQuota < 1 {
            throw ValidationError("--mqtt-module-quota \(mqttModuleQuota): give at least 1 byte (the default is 1048576)")
        }
        do throws(MQTTError) {
            _ = try configuration(device: device)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The connection's configuration, or nil without `--mqtt-url`; checked with `validate()`.
    func hostConfiguration() throws -> HostMessaging.Configuration? {
        guard mqttURL != nil, let device = deviceID ?? HostMessaging.defaultDeviceID() else { return nil }
        return .init(mqtt: try configuration(device: device), deviceID: device, topicPrefix: mqttTopicPrefix, moduleQuotaBytes: mqttModuleQuota)
    }

    private func configuration(device: String) throws(MQTTError) -> MQTTConfiguration {
        var mqtt = MQTTConfiguration(broker: try MQTTBroker(url: mqttURL ?? ""), clientID: mqttClientID ?? device)
        if let mqttCA {
            mqtt.tls = .init(caFile: mqttCA, certificateFile: mqttCert, keyFile: mqttKey)
        } else if mqttCert != nil || mqttKey != nil {
            throw MQTTError(.invalidArgument, "--mqtt-cert and --mqtt-key need --mqtt-ca: give the CA that verifies the broker")
        }
        mqtt.username = mqttUsername
        if let mqttPasswordFile {
            do throws(FileFailure) {
                mqtt.password = String(try Files.readAttribute(mqttPasswordFile).split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            } catch {
                throw MQTTError(.invalidArgument, "--mqtt-password-file: \(error)")
            }
        }
        try mqtt.validate()
        if !mqttTopicPrefix.isEmpty {
            do throws(MQTTError) {
                try MQTTTopic.validate(name: mqttTopicPrefix + "x")
            } catch {
                throw MQTTError(.invalidArgument, "--mqtt-topic-prefix '\(mqttTopicPrefix)': \(error.message)")
            }
        }
        return mqtt
    }
}
