// @ts-check
// Device-free smoke spec that fails on purpose when FAIL_ON_PURPOSE=1, so the
// failing path (exit code, JSON/JUnit failure records) can be exercised for real.
const { test, expect } = require("@playwright/test");

const failOnPurpose = process.env.FAIL_ON_PURPOSE === "1";

test("checkout total is computed", () => {
  const items = [
    { price: 250, qty: 2 },
    { price: 100, qty: 1 },
  ];
  const total = items.reduce((sum, i) => sum + i.price * i.qty, 0);
  // 600 is right; with FAIL_ON_PURPOSE=1 we expect a wrong value on purpose.
  expect(total).toBe(failOnPurpose ? 601 : 600);
});
