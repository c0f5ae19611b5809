// The package's version (`IoTSDKVersion.current`) lives in the tiny SDKVersion target, which the
// plugin host reads too without linking the SDK; IoTSDK's users keep seeing it here.
@_exported import SDKVersion
