/// The release of this package: the SDK, `sdk-demo` and `plugin-host` share it (`--version`).
public enum IoTSDKVersion {
    public static let current = "0.1.0"
}
