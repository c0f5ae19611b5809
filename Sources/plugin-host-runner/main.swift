// plugin-host-runner: the module runner as an executable of its own (Sources/PluginHostRunner);
// `plugin-host` runs the same code when it is started under this name.
import PluginHostRunner

runnerMain()
