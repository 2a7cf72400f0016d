/**
 * Headless Chromium for the kiwi tests and benchmark: Debian's package at
 * /usr/bin/chromium, driven by playwright-core, which never downloads a
 * browser of its own. The flags keep it off the network it cannot reach
 * here (background updates, QUIC, sync) and let it run as root without a GPU.
 */
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Starts headless Chromium; `extraArgs` go after the usual flags. */
export function launchChromium(timeoutMs: number, extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: timeoutMs,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-quic",
      "--no-first-run",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
