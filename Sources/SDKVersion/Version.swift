/// The release of this package: the SDK, `sdk-demo` and `plugin-host` share it (`--version`).
/// A target of its own, so that the host reads it without linking the SDK; `IoTSDK` re-exports it.
public enum IoTSDKVersion {
    public static let current = "0.1.0"
}
