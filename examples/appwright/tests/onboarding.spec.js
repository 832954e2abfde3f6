// @ts-check
// Needs a device: run with --project emulator | device | browserstack.
const { test, expect } = require("appwright");

test("first launch shows onboarding and can be skipped", async ({ device }) => {
  await expect(device.getByText("Welcome")).toBeVisible({ timeout: 30_000 });
  await device.getByText("Next").tap();
  await expect(device.getByText(/notifications/i)).toBeVisible();
  await device.getByText("Skip").tap();
  await expect(device.getById("home_screen")).toBeVisible();
});

test("onboarding pages can be swiped through", async ({ device }) => {
  for (const title of ["Welcome", "Stay in sync", "You're all set"]) {
    await expect(device.getByText(title, { exact: true })).toBeVisible();
    await device.getByText("Next").tap();
  }
  await expect(device.getById("home_screen")).toBeVisible();
});
