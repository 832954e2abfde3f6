import { defineConfig, Platform } from "appwright";
import { videoRecordable } from "./playwright-ffmpeg";

/**
 * AppWright config for the qgjob example.
 *
 * Every device project takes the app build from the environment, so the same
 * spec files can be pointed at any build without editing this file:
 *
 *   APP_BUILD_PATH          path to the Android .apk (emulator, device)
 *   DEVICE_UDID             optional: `adb devices` serial for the `device` project
 *   BROWSERSTACK_BUILD_PATH local .apk or public https:// URL uploaded by AppWright
 *                           (falls back to APP_BUILD_PATH)
 *   BROWSERSTACK_USERNAME / BROWSERSTACK_ACCESS_KEY   read by AppWright itself
 *
 * The `local` project has no device at all: it runs tests/smoke/*.spec.js,
 * which only use @playwright/test (one opens a page in Debian's chromium).
 * See README.md for why it looks the way it does.
 */
const appBuildPath = process.env.APP_BUILD_PATH ?? "builds/app-release.apk";

const config = defineConfig({
  testDir: "./tests",
  // AppWright's own default reporter is [list, html{open:"always"}], which
  // starts a report server and waits for Ctrl+C after a run. Never do that.
  reporter: [["list"]],
  workers: 1,
  retries: 0,
  projects: [
    {
      name: "emulator",
      use: {
        platform: Platform.ANDROID,
        device: { provider: "emulator" },
        buildPath: appBuildPath,
      },
    },
    {
      name: "device",
      use: {
        platform: Platform.ANDROID,
        device: {
          provider: "local-device",
          // Leave undefined to let Appium pick the single device in `adb devices`.
          udid: process.env.DEVICE_UDID || undefined,
        },
        buildPath: appBuildPath,
      },
    },
    {
      name: "browserstack",
      use: {
        platform: Platform.ANDROID,
        device: {
          provider: "browserstack",
          name: process.env.BROWSERSTACK_DEVICE ?? "Google Pixel 8",
          osVersion: process.env.BROWSERSTACK_OS_VERSION ?? "14.0",
        },
        buildPath: process.env.BROWSERSTACK_BUILD_PATH ?? appBuildPath,
      },
    },
    {
      // No device: only the smoke specs, so the whole
      // qgjob -> appwright -> playwright path can run on a machine with no
      // Android SDK, no Appium driver and no downloaded browser.
      name: "local",
      testDir: "./tests/smoke",
      use: {
        // Debian's chromium: nothing downloads a browser (never `npx playwright install`).
        launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
        // What a failed test leaves for qgjob to keep: see playwright-ffmpeg.js for videos.
        screenshot: "only-on-failure",
        trace: "retain-on-failure",
        video: videoRecordable() ? "retain-on-failure" : "off",
      },
    },
  ],
});

export default {
  ...config,
  // Set after defineConfig(), which would drop it. Delegates to AppWright's own
  // global setup for every device project; see global-setup.js.
  globalSetup: "./global-setup.js",
};
