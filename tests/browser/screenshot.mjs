// SPDX-License-Identifier: Apache-2.0
//
// Takes the screenshot used in docs/ui.md:
//   node screenshot.mjs OUT.png                 (live CPU profile from CPPROF_DEMO)
//   node screenshot.mjs OUT.png PROFILE.pb.gz   (a file, served by the dev server)

import fs from 'node:fs';
import { launchBrowser, startDemo, startDevServer } from './harness.mjs';

const [out, file] = process.argv.slice(2);
if (!out) {
  console.error('usage: node screenshot.mjs OUT.png [PROFILE.pb.gz]');
  process.exit(2);
}
const server = file ? await startDevServer({ profile: fs.readFileSync(file) }) : await startDemo(process.env.CPPROF_DEMO);
const browser = await launchBrowser();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(server.base + '/debug/pprof/ui/?source=profile%3Fseconds%3D' + (file ? '0' : '5'));
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.status) && document.body.dataset.mainLoaded, null, { timeout: 120000 });
  // Hover the root row, right of the middle, so the tooltip shows and the
  // hot frames above stay uncovered.
  const pt = await page.evaluate(() => {
    const f = window.cpprofApp && window.cpprofApp.flame;
    if (!f || !f.data) return null;
    const r = f.canvas.getBoundingClientRect();
    return { x: r.left + r.width * 0.8, y: r.top + f.rowY(0) + 9 };
  });
  const box = await page.locator('.flame-canvas').boundingBox();
  if (pt) await page.mouse.move(pt.x, pt.y);
  else await page.mouse.move(box.x + box.width * 0.8, box.y + box.height - 10);
  await page.screenshot({ path: out });
  console.log('wrote ' + out);
} finally {
  await browser.close();
  await server.stop();
}
