// Headless Chromium for the browser tests (official SDK's browser build, the demo page): the
// binary and the flags both suites launch it with. No dependencies, so any test can import it.

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Headless, no sandbox (containers, root), and nothing that reaches beyond loopback.
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
