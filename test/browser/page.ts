/**
 * What the browser tests share: a page of headless Chromium that records
 * its console errors and uncaught exceptions, so a test can say the page
 * ran without any.
 */
import type { Browser, Page } from "playwright-core";

/**
 * Opens `url` in a new 1000 x 800 page of `browser`, every wait of it
 * limited to `wait` milliseconds; the page's console errors and uncaught
 * exceptions are pushed onto `problems` as they come.
 */
export async function openPage(
  browser: Browser,
  url: string,
  wait: number,
  problems: string[],
): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.setDefaultTimeout(wait);
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(url, { timeout: wait });
  return page;
}
