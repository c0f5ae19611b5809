// The plugin host as one import: `import PluginHost` brings its layers, each a target of
// its own so that dependencies point down only (Documentation/Architecture.md).
//
// - PluginHostImages: what a module image is (manifest, OCI layout, tar, gzip, zstd, signing, trust);
//   portable, so that `pack`, `keygen` and `inspect` build on macOS too.
// - PluginHostStore: the state directory and the update engine (install, commit, rollback).
// - PluginHostRegistry: pulling module images from OCI registries into the content store.
// - PluginHostRuntime: running modules (runner processes, sandbox, hardware broker, control
//   socket, supervision, the daemon's event loop).
@_exported import PluginHostImages
@_exported import PluginHostRegistry
@_exported import PluginHostRuntime
@_exported import PluginHostStore
