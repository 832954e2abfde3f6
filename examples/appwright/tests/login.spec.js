// @ts-check
// Needs a device: run with --project emulator | device | browserstack.
const { test, expect } = require("appwright");

const USERNAME = process.env.TEST_USERNAME ?? "qa@example.com";
const PASSWORD = process.env.TEST_PASSWORD ?? "correct-horse";

test.beforeEach(async ({ device }) => {
  // Get past onboarding so each test starts on the login screen.
  if (await device.getByText("Skip").isVisible({ timeout: 10_000 })) {
    await device.getByText("Skip").tap();
  }
});

test("user can log in", async ({ device }) => {
  await device.getById("email_input").fill(USERNAME);
  await device.getById("password_input").fill(PASSWORD);
  await device.getByText("Log in").tap();
  await expect(device.getByText(/^Hello, /)).toBeVisible({ timeout: 30_000 });
});

test("wrong password shows an error", async ({ device }) => {
  await device.getById("email_input").fill(USERNAME);
  await device.getById("password_input").fill("wrong-password");
  await device.getByText("Log in").tap();
  await expect(device.getByText("Invalid email or password")).toBeVisible();
  const error = await device.getByText(/invalid/i).getText();
  expect(error).toContain("Invalid");
});
