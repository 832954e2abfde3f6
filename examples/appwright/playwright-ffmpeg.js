// @ts-check
/**
 * Lets Playwright record videos with Debian's ffmpeg (`apt-get install ffmpeg`).
 *
 * Playwright records with its own ffmpeg build, which `npx playwright install` downloads to
 * PLAYWRIGHT_BROWSERS_PATH/ffmpeg-<revision>/ffmpeg-linux, and it has no setting that names
 * another ffmpeg. Where that download is not possible (qgjob's CI reaches package registries
 * only), this links the system's ffmpeg at that place in a folder of this project and points
 * PLAYWRIGHT_BROWSERS_PATH there; the test workers inherit the variable. Browsers are not
 * looked up there: the config gives chromium's path.
 *
 * videoRecordable() says whether a video can be recorded, so the config asks for videos only
 * then: without an ffmpeg, every test that opens a page would fail.
 */
const fs = require("fs");
const path = require("path");
const { registry } = require("playwright-core/lib/server/registry/index");

const SYSTEM_FFMPEG = process.env.FFMPEG_PATH || "/usr/bin/ffmpeg";
const LINKS = path.join(__dirname, "node_modules", ".playwright-ffmpeg");

function videoRecordable() {
  const own = registry.findExecutable("ffmpeg");
  const ownPath = own.executablePath("javascript");
  if (ownPath && fs.existsSync(ownPath)) return true; // Playwright's own, where installed
  if (process.platform !== "linux" || !fs.existsSync(SYSTEM_FFMPEG)) return false;
  const link = path.join(LINKS, path.basename(own.directory), path.basename(ownPath));
  try {
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(SYSTEM_FFMPEG, link);
  } catch (error) {
    // EEXIST: linked before, or by a run starting at the same time. Anything else (a
    // read-only folder): no video rather than a config that fails to load.
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== "EEXIST") return false;
  }
  process.env.PLAYWRIGHT_BROWSERS_PATH = LINKS;
  return true;
}

module.exports = { videoRecordable };
