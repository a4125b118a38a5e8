// Drives code-server (a real VS Code) in headless Chromium: hover a symbol and see the ragls
// citation; run "ragls: Ask the Workspace", see the streamed answer and open a citation; start the
// `ragls mcp` server the extension registers for agent mode.
// Started by e2e.sh, which provides the environment variables below.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const url = process.env.RAGLS_E2E_URL;
const workspace = process.env.RAGLS_E2E_WORKSPACE;
const userData = process.env.RAGLS_E2E_USER_DATA;
const artefacts = process.env.RAGLS_E2E_ARTEFACTS;
const browserPath = process.env.RAGLS_E2E_BROWSER || '/usr/lib/chromium/chromium-headless-shell';
const t0 = Date.now();

function log(message) {
  console.error(`[driver ${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);
}

async function eventually(what, fn, timeoutMs = 60000, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}

/** The ragls output channel as VS Code writes it to disk (easier to assert on than the page). */
function outputChannelLog() {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      // A log output channel lives in exthost*/<extension id>/<name>.log, a plain one in output_logging_*.
      else if (/ragls/i.test(entry.name) && (p.includes('output_logging') || p.includes('ragls.ragls'))) found.push(p);
    }
  };
  walk(path.join(userData, 'logs'));
  return found.map((p) => fs.readFileSync(p, 'utf8')).join('\n');
}

/** The command line of a running `ragls mcp` serving ``folder`` (from /proc), if any. */
function ragMcpProcess(folder) {
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let args;
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone, or not ours to read
    }
    const at = args.indexOf('mcp');
    if (at > 0 && args.includes(folder) && args.includes('--index-dir')) return args.join(' ');
  }
  return undefined;
}

async function openFile(page, parts) {
  // The explorer is more reliable than keyboard shortcuts right after start-up.
  for (const [i, part] of parts.entries()) {
    const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label^="${part}"]`).first();
    await row.waitFor({ timeout: 30000 });
    if (i < parts.length - 1) {
      const expanded = await row.getAttribute('aria-expanded');
      if (expanded !== 'true') await row.click();
    } else {
      await row.dblclick();
    }
  }
  await page.locator(`.tab.active[aria-label*="${parts[parts.length - 1]}"]`).waitFor({ timeout: 30000 });
}

async function runCommand(page, title) {
  await page.locator('.monaco-workbench').click({ position: { x: 5, y: 300 } }).catch(() => undefined);
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
}

async function answerFrame(page) {
  for (const frame of page.frames()) {
    try {
      if (await frame.locator('#answer').count()) return frame;
    } catch {
      // detached frame
    }
  }
  return undefined;
}

async function main() {
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const timings = {};
  let step = 'start';
  try {
    step = 'load';
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    timings.workbench = Date.now() - t0;
    log('workbench loaded');

    step = 'open client.py';
    await openFile(page, ['src', 'client.py']);
    log('client.py open');

    step = 'status bar';
    const statusText = await eventually('the ragls status bar item to show the indexed files', async () => {
      const items = await page.locator('.statusbar-item').allInnerTexts();
      // Both example files indexed (the count grows while indexing runs).
      return items.find((t) => /ragls: \d+ files? ·/.test(t) && Number(/(\d+) file/.exec(t)[1]) >= 2);
    }, 120000);
    timings.indexed = Date.now() - t0;
    log(`status bar: ${statusText.trim()}`);

    step = 'hover';
    // Screen position of `retry_policy` in "retry_policy(max_attempts=3)": Monaco splits lines into
    // token spans, so measure the word inside its text node.
    const point = await eventually('retry_policy on screen', () =>
      page.evaluate(() => {
        for (const line of document.querySelectorAll('.monaco-editor .view-line')) {
          if (!line.textContent.includes('retry_policy(max')) continue; // Monaco renders spaces as U+00A0
          const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.textContent.indexOf('retry_policy');
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at + 3);
            range.setEnd(node, at + 4);
            const r = range.getBoundingClientRect();
            return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
          }
        }
        return undefined;
      }), 10000);
    const hoverText = await eventually('a hover with a citation of docs/retry.md', async () => {
      await page.mouse.move(10, 10);
      await page.mouse.move(point.x, point.y, { steps: 4 });
      const hover = page.locator('.monaco-hover-content');
      await hover.first().waitFor({ timeout: 8000 });
      const text = await hover.allInnerTexts();
      const joined = text.join('\n');
      const links = await page.locator('.monaco-hover-content a').evaluateAll((as) =>
        as.map((a) => a.getAttribute('data-href') || a.getAttribute('href') || ''),
      );
      return /retry/i.test(joined) && links.some((l) => l.includes('retry.md')) ? `${joined}\nlinks: ${links.join(' ')}` : undefined;
    }, 90000, 1000);
    timings.hover = Date.now() - t0;
    log(`hover:\n${hoverText}`);
    await page.mouse.move(10, 10);
    await page.keyboard.press('Escape');

    step = 'ask';
    await runCommand(page, 'ragls: Ask the Workspace');
    const questionBox = page.locator('.quick-input-widget input');
    await eventually('the question input box', async () => (await questionBox.getAttribute('placeholder'))?.includes('retried'), 10000, 200);
    await questionBox.fill('How does retry_policy retry failed requests?');
    await page.keyboard.press('Enter');
    const frame = await eventually('the answer panel', () => answerFrame(page), 30000);
    log('answer panel open');
    const sawStreaming = await frame.locator('body[data-state="streaming"]').count();
    await frame.locator('body[data-state="done"], body[data-state="failed"]').waitFor({ timeout: 120000 });
    timings.answer = Date.now() - t0;
    const state = await frame.locator('body').getAttribute('data-state');
    const answerText = await frame.locator('#answer').innerText();
    log(`answer (${state}, streaming state seen: ${sawStreaming > 0}):\n${answerText}\n${await frame.locator('#footer').innerText()}`);
    await page.screenshot({ path: path.join(artefacts, 'answer.png') });
    if (state !== 'done') throw new Error(`ask failed: ${await frame.locator('#error').innerText()}`);
    if (!/retr/i.test(answerText)) throw new Error('the answer does not mention retrying');

    step = 'open citation';
    const link = frame.locator('a[href^="#ragls-cite-"]', { hasText: 'retry.md' }).first();
    await link.waitFor({ timeout: 5000 });
    const label = await link.innerText();
    const [, firstLine, lastLine] = (/:(\d+)(?:-(\d+))?$/.exec(label) || []).map(Number);
    log(`clicking citation ${label}`);
    await link.click();
    await page.locator('.tab.active[aria-label*="retry.md"]').waitFor({ timeout: 15000 });
    const cursor = await eventually('the cursor position in the status bar', async () => {
      const items = await page.locator('.statusbar-item').allInnerTexts();
      return items.find((t) => /Ln \d+, Col \d+/.test(t));
    }, 10000);
    // VS Code puts the cursor at the end of the selection: the last cited line, or column 1 of
    // the next line when the cited range ends at a line start.
    const [, line, column] = /Ln (\d+), Col (\d+)/.exec(cursor).map(Number);
    log(`retry.md opened at "${cursor.trim()}"`);
    const last = lastLine || firstLine;
    const endsRight = line === last || (line === last + 1 && column === 1);
    if (!endsRight || !/selected/.test(cursor)) throw new Error(`citation ${label} did not select its lines: ${cursor}`);
    timings.citation = Date.now() - t0;

    step = 'ask about selection';
    // The citation left lines of retry.md selected: ask about them from the command palette
    // (the same command as the editor context menu entry).
    await runCommand(page, 'ragls: Ask About Selection');
    await eventually('the prefilled question', async () => /^What does `/.test(await questionBox.inputValue()), 10000, 200);
    const selectionQuestion = await questionBox.inputValue();
    await page.keyboard.press('Enter');
    await eventually('the answer about the selection', async () => {
      const f = await answerFrame(page);
      if (!f) return undefined;
      const q = await f.locator('#question').innerText();
      const done = await f.locator('body[data-state="done"]').count();
      return q === selectionQuestion && done ? f : undefined;
    }, 60000);
    log(`asked about the selection: ${selectionQuestion}`);
    timings.selection = Date.now() - t0;

    step = 'output channel';
    const channel = await eventually('the answer in the ragls output channel', () => {
      const text = outputChannelLog();
      return /answer \(/.test(text) ? text : undefined;
    }, 15000);
    if (/couldn't create connection|failed to start/.test(channel)) throw new Error('server start errors in the log');

    step = 'mcp server';
    // VS Code's agent mode gets `ragls mcp` from the extension (mcpServerDefinitionProviders,
    // VS Code 1.101+): listed without any mcp.json, started with the workspace and the language
    // server's index folder, following that server's index, offering its four tools.
    const mcpRow = () => page.locator('.quick-input-list .monaco-list-row', { hasText: /^ragls/ }).first();
    await runCommand(page, 'MCP: List Servers');
    await mcpRow().waitFor({ timeout: 15000 });
    await mcpRow().click();
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start Server' }).first().click();
    const mcpProcess = await eventually('a `ragls mcp` process for the workspace', () => ragMcpProcess(workspace), 30000);
    log(`MCP server process: ${mcpProcess}`);
    const mcpOutput = await eventually('the MCP server following the index, with its tools', async () => {
      await page.keyboard.press('Escape');
      await runCommand(page, 'MCP: List Servers');
      await mcpRow().waitFor({ timeout: 10000 });
      await mcpRow().click();
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Show Output' }).first().click();
      // (Monaco renders spaces as U+00A0 and wraps long lines: compare with whitespace folded)
      const text = (await page.locator('.part.panel .view-lines').allInnerTexts()).join('\n').replace(/\s+/g, ' ');
      return /Discovered 4 tools/.test(text) && /following its commits/.test(text) ? text : undefined;
    }, 60000, 2000);
    log(`MCP server output:\n${mcpOutput}`);
    timings.mcp = Date.now() - t0;

    step = 'start failure';
    // Point the extension at a server that does not exist: changing ragls.server.path restarts
    // the server, and the user must get exactly one error that says what to do. (Workspace
    // settings: code-server notices changes to those files; external edits of the user
    // settings file are not picked up.)
    fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    fs.writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify({ 'ragls.server.path': path.join(artefacts, 'no-such-ragls') }, null, 2),
    );
    const toast = await eventually('an error notification about the missing server', async () => {
      const texts = await page.locator('.notifications-toasts .notification-toast').allInnerTexts();
      return texts.some((t) => /does not exist/.test(t)) ? texts : undefined;
    }, 30000);
    await new Promise((r) => setTimeout(r, 3000)); // room for a retry storm to show up
    const toasts = (await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).filter((t) => /ragls/i.test(t));
    log(`notifications: ${JSON.stringify(toasts)}`);
    if (toasts.length !== 1) throw new Error(`expected one ragls notification, got ${toasts.length}: ${JSON.stringify(toasts)}`);
    if (!/Open Settings/.test(toasts[0])) throw new Error('the notification offers no way to fix the setting');
    const statusAfter = (await page.locator('.statusbar-item').allInnerTexts()).find((t) => /ragls/.test(t));
    log(`status bar after the failure: ${statusAfter && statusAfter.trim()}`);
    timings.failure = Date.now() - t0;
    void toast;

    await page.screenshot({ path: path.join(artefacts, 'final.png') });
    log(`PASS; timings (ms since start): ${JSON.stringify(timings)}`);
  } catch (error) {
    log(`FAIL at step "${step}": ${error.stack || error}`);
    await page.screenshot({ path: path.join(artefacts, `fail-${step.replace(/\W+/g, '-')}.png`) }).catch(() => undefined);
    fs.writeFileSync(path.join(artefacts, 'ragls-output.log'), outputChannelLog());
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
