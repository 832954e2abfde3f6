// @ts-check
// Device-free smoke spec: uses only @playwright/test's `test`/`expect`, no
// browser (`page`) and no AppWright `device` fixture, so it runs anywhere.
const { test, expect } = require("@playwright/test");

test.describe("smoke: pure logic", () => {
  test("adds numbers", () => {
    expect(1 + 2).toBe(3);
  });

  test("formats a build label", () => {
    const label = ["app", "1.4.2", "android"].join("-");
    expect(label).toBe("app-1.4.2-android");
    expect(label).toMatch(/^app-\d+\.\d+\.\d+-android$/);
  });
});
