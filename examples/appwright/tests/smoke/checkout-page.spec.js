// @ts-check
// Device-free spec with a browser page (Debian's chromium, see appwright.config.ts). It fails
// on purpose when FAIL_ON_PURPOSE=1, so a failed test leaves real evidence: a screenshot, a
// trace and, where an ffmpeg is found, a video.
const { test, expect } = require("@playwright/test");

const failOnPurpose = process.env.FAIL_ON_PURPOSE === "1";

test("checkout page shows the total", async ({ page }) => {
  await page.setContent(`<main style="font: 24px sans-serif; padding: 2em">
    <h1>Checkout</h1><p>2 × 250 + 1 × 100</p><p id="total">Total: 600</p></main>`);
  await page.getByRole("heading", { name: "Checkout" }).click();
  // textContent() answers at once: no waiting on a value that never comes.
  expect(await page.locator("#total").textContent()).toBe(
    failOnPurpose ? "Total: 601" : "Total: 600");
});
