// @ts-check
/**
 * Wraps AppWright's global setup so a project with no `use.device` (the
 * `local` project) can be selected.
 *
 * AppWright 0.1.1 always installs its own globalSetup (defineConfig() drops any
 * `globalSetup` you pass in, with a warning). That setup reads `--project NAME`
 * from process.argv and calls createDeviceProvider() for each selected project,
 * which throws `Unknown device provider: undefined` for a project without
 * `use.device.provider`. Here we hand AppWright only the selected projects that
 * do have a device provider, so its checks (build path, ANDROID_HOME/JAVA_HOME,
 * emulator list, BrowserStack upload) still run exactly as before for them.
 */
const appwrightGlobalSetup = require("appwright/dist/global-setup").default;

/** @param {import("@playwright/test").FullConfig} config */
module.exports = async function globalSetup(config) {
  const deviceProjects = config.projects.filter(
    (p) => /** @type {any} */ (p.use).device?.provider,
  );
  const argv = process.argv;
  const selected = argv
    .map((arg, i) => (arg === "--project" ? argv[i + 1] : undefined))
    .filter(Boolean);
  const deviceFreeOnly =
    selected.length > 0 &&
    selected.every((name) => !deviceProjects.some((p) => p.name === name));
  if (deviceFreeOnly) {
    return; // e.g. `--project local`: nothing to validate, no device to prepare
  }
  return appwrightGlobalSetup({ ...config, projects: deviceProjects });
};
