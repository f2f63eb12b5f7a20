// The web page in headless Chromium, as a user drives it: node ui.mjs URL SCREENSHOT_DIR.
// Each step asserts what the user sees; every state is saved as a screenshot.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const problems = [];
// Chromium logs every 4xx answer as a failed resource; the bad-value step provokes two 422s
// on purpose, and they are counted apart from real errors.
const provoked = [];
page.on("console", (message) => {
  if (message.type() !== "error") return;
  const text = message.text();
  if (/Failed to load resource: .*status of 422/.test(text)) provoked.push(text);
  else problems.push(`console: ${text}`);
});
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
let passed = 0;
async function step(name, run) {
  await run();
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

await step("the page loads and lists the sample models with thumbnails", async () => {
  await page.goto(url);
  await page.locator("#models li").first().waitFor();
  const names = await page.locator("#models .name").allTextContents();
  for (const sample of ["10X10_100N", "10X10_200N", "10X10_500N", "100X100_1000N"]) {
    assert.ok(names.includes(sample), `${sample} in ${names}`);
  }
  const thumbnail = page.locator('#models button[data-name="10X10_100N"] img');
  await thumbnail.evaluate((img) => img.complete || new Promise((done) => { img.onload = done; }));
  assert.ok(await thumbnail.evaluate((img) => img.naturalWidth > 0), "the thumbnail loaded");
  await shot("1-loaded");
});

await step("a sample model opens with its map, U-matrix, curves and download link", async () => {
  await page.locator('#models button[data-name="10X10_500N"]').click();
  await page.locator("#model-title").filter({ hasText: "10X10_500N" }).waitFor();
  for (const id of ["#model-map", "#model-umatrix", "#model-curves"]) {
    await page.waitForFunction((sel) => document.querySelector(sel).naturalWidth > 0, id);
  }
  assert.equal(await page.locator("#model-download").getAttribute("href"), "/download/10X10_500N");
  await shot("2-model-open");
});

await step("the sample colours train on 10x10 in the background and the map appears", async () => {
  await page.locator('input[name="source"][value="samples"]').check();
  await page.locator("#grid-rows").fill("10");
  await page.locator("#grid-cols").fill("10");
  await page.locator("#iterations").fill("100");
  await page.locator("#background").check();
  await page.locator("#train-submit").click();
  await page.locator("#job-status").filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });
  const name = await page.locator("#job-name").textContent();
  assert.match(name, /_10X10_100N_0\.1LR/);
  await page.locator("#model-title").filter({ hasText: name }).waitFor();
  await page.waitForFunction(() => document.querySelector("#model-map").naturalWidth === 400);
  assert.ok((await page.locator("#models .name").allTextContents()).includes(name), "listed");
  await shot("3-trained-in-background");
});

await step("a long job (300x300, 3000 iterations, 10 colours) shows rising progress and is cancelled", async () => {
  await page.locator("#grid-rows").fill("300");
  await page.locator("#grid-cols").fill("300");
  await page.locator("#iterations").fill("3000");
  await page.locator("#train-submit").click();
  await page.locator("#job-status").filter({ hasText: "running" }).waitFor({ timeout: 30_000 });
  const progress = () => page.locator("#job-progress").evaluate((bar) => bar.value);
  const first = await progress();
  await page.waitForFunction((start) => document.querySelector("#job-progress").value > start + 0.005,
    first, { timeout: 30_000 });
  assert.match(await page.locator("#job-status").textContent(), /running: \d+ of 3000 iterations, ETA/);
  await shot("4-job-running");
  await page.locator("#job-cancel").click();
  await page.locator("#job-status").filter({ hasText: "cancelled" }).waitFor({ timeout: 10_000 });
  assert.ok(await page.locator("#job-cancel").isHidden());
  await shot("5-job-cancelled");
});

await step("a prediction places the vectors on the map and lists them", async () => {
  await page.locator('#models button[data-name="10X10_500N"]').click();
  await page.locator("#model-title").filter({ hasText: "10X10_500N" }).waitFor();
  await page.locator("#predict-data").fill("[[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]]");
  await page.locator("#predict-form button[type=submit]").click();
  await page.locator("#predict-list li").nth(3).waitFor();
  assert.equal(await page.locator("#predict-list li").count(), 4);
  assert.match(await page.locator("#predict-list li").first().textContent(), /\[1, 0, 0\] → row \d+, column \d+/);
  await page.waitForFunction(() => document.querySelector("#predict-picture").naturalWidth === 400);
  await shot("6-predicted");
});

await step("a bad value gets the server's message next to its field", async () => {
  await page.locator("#grid-rows").fill("10");
  await page.locator("#grid-cols").fill("10");
  await page.locator("#iterations").fill("0");
  await page.locator("#train-submit").click();
  const message = page.locator("#error-iterations");
  await message.waitFor();
  assert.match(await message.textContent(), /max_iterations/);
  assert.ok(await page.locator("#iterations").evaluate((input) => input === document.activeElement),
    "the field with the problem has the focus");
  await page.locator("#iterations").fill("100");
  await page.locator("#learning-rate").fill("5");
  await page.locator("#train-submit").click();
  await page.locator("#error-learning-rate").waitFor();
  assert.ok(await page.locator("#error-iterations").isHidden(), "the old message went");
  await shot("7-bad-value");
});

await step("the page works from the keyboard and on a phone-sized screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(url);
  await page.locator("#models li").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.locator("body").focus();
  let reached = false;
  for (let i = 0; i < 8 && !reached; i += 1) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.dataset?.name === "100X100_1000N"
      || document.activeElement?.closest?.("#models") !== null);
  }
  assert.ok(reached, "a model is reachable with Tab");
  await page.keyboard.press("Enter");
  await page.locator("#model").waitFor();
  await shot("8-phone");
});

await step("no console errors (only the two 422 answers provoked above)", async () => {
  assert.deepEqual(problems, []);
  assert.equal(provoked.length, 2, provoked.join("\n"));
});

await browser.close();
console.log(`browser: ${passed} passed, 0 failed (screenshots in ${shots})`);
