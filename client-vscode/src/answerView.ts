/**
 * The answer panel: a webview that shows the question, the streamed answer rendered as Markdown,
 * a Cancel button while streaming, and citations that open the cited lines when clicked.
 */
import * as vscode from 'vscode';
import { AskResult, Citation } from './protocol';
import { answerMarkdown, citationIdFromHref, describeSource, openCitationArgs, renderMarkdown } from './answer';

type ViewState =
  | { type: 'streaming'; question: string; html: string; status: string }
  | { type: 'done'; question: string; html: string; footer: string }
  | { type: 'failed'; question: string; html: string; message: string };

export class AnswerPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private state: ViewState | undefined;
  private citations = new Map<number, Citation>();
  private onCancel: (() => void) | undefined;
  private renderTimer: NodeJS.Timeout | undefined;
  private pendingText: string | undefined;

  constructor(private readonly relativePath: (uri: string) => string) {}

  /** Opens (or reuses) the panel for a new question; `onCancel` runs when the user clicks Cancel. */
  begin(question: string, onCancel: () => void): void {
    this.onCancel = onCancel;
    this.citations.clear();
    this.pendingText = undefined;
    this.state = { type: 'streaming', question, html: '', status: 'Searching the workspace…' };
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel('ragls.answer', 'ragls: Answer', vscode.ViewColumn.Beside, {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: [],
      });
      this.panel.onDidDispose(() => {
        this.onCancel?.();
        this.panel = undefined;
      });
      this.panel.webview.onDidReceiveMessage((message: { type: string; href?: string }) => this.receive(message));
      this.panel.webview.html = pageHtml(nonce());
    } else {
      this.panel.reveal(vscode.ViewColumn.Beside, false);
    }
    this.post();
  }

  status(message: string): void {
    if (this.state?.type === 'streaming') {
      this.state.status = message;
      this.post();
    }
  }

  /** Streamed text so far; rendering is throttled so long answers don't flood the webview. */
  streamed(full: string): void {
    this.pendingText = full;
    if (this.renderTimer) {
      return;
    }
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      if (this.state?.type === 'streaming' && this.pendingText !== undefined) {
        this.state.html = renderMarkdown(this.pendingText);
        this.state.status = 'Answering…';
        this.post();
      }
    }, 40);
  }

  finish(result: AskResult): void {
    this.clearTimer();
    const question = this.state?.question ?? '';
    for (const citation of result.citations) {
      this.citations.set(citation.id, citation);
    }
    const html = renderMarkdown(answerMarkdown(result, this.relativePath));
    const footer = result.source ? `Source: ${describeSource(result.source)}.` : '';
    this.state = { type: 'done', question, html, footer };
    this.onCancel = undefined;
    this.post();
  }

  fail(message: string, partial: string): void {
    this.clearTimer();
    const question = this.state?.question ?? '';
    this.state = { type: 'failed', question, html: partial ? renderMarkdown(partial) : '', message };
    this.onCancel = undefined;
    this.post();
  }

  dispose(): void {
    this.clearTimer();
    this.panel?.dispose();
  }

  private clearTimer(): void {
    if (this.renderTimer) {
      clearTimeout(this.renderTimer);
      this.renderTimer = undefined;
    }
  }

  private post(): void {
    if (this.panel && this.state) {
      void this.panel.webview.postMessage(this.state);
    }
  }

  private receive(message: { type: string; href?: string }): void {
    if (message.type === 'ready') {
      this.post();
    } else if (message.type === 'cancel') {
      this.onCancel?.();
    } else if (message.type === 'open' && message.href) {
      const id = citationIdFromHref(message.href);
      const citation = id === undefined ? undefined : this.citations.get(id);
      if (citation) {
        void vscode.commands.executeCommand('vscode.open', ...openCitationArgs(citation));
      }
    }
  }
}

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 32; i++) {
    out += chars.charAt(Math.floor(Math.random() * chars.length));
  }
  return out;
}

/** Static page; all content arrives as already-sanitised HTML (markdown-it with html: false). */
function pageHtml(n: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${n}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 16px; line-height: 1.5; }
  #question { font-weight: 600; font-size: 1.1em; margin: 12px 0; }
  #bar { display: flex; gap: 12px; align-items: center; min-height: 28px; color: var(--vscode-descriptionForeground); }
  #cancel { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 4px 12px; cursor: pointer; }
  #cancel:hover { background: var(--vscode-button-secondaryHoverBackground); }
  #error { color: var(--vscode-errorForeground); }
  #footer { color: var(--vscode-descriptionForeground); font-size: 0.9em; margin-top: 16px; }
  a { color: var(--vscode-textLink-foreground); cursor: pointer; text-decoration: none; }
  a:hover { text-decoration: underline; }
  code { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 1px 3px; }
  pre code { display: block; padding: 8px; overflow-x: auto; }
  blockquote { border-left: 3px solid var(--vscode-textBlockQuote-border); margin: 8px 0; padding: 2px 10px; background: var(--vscode-textBlockQuote-background); }
</style>
</head>
<body>
<div id="question"></div>
<div id="bar"><span id="status"></span><button id="cancel" hidden>Cancel</button></div>
<div id="answer"></div>
<div id="error"></div>
<div id="footer"></div>
<script nonce="${n}">
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  $('cancel').addEventListener('click', () => { vscode.postMessage({ type: 'cancel' }); $('status').textContent = 'Cancelling…'; });
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a');
    if (!link) return;
    event.preventDefault();
    const href = link.getAttribute('href') || '';
    if (href.startsWith('#ragls-cite-')) vscode.postMessage({ type: 'open', href });
  });
  window.addEventListener('message', (event) => {
    const s = event.data;
    document.body.dataset.state = s.type;
    $('question').textContent = s.question;
    $('answer').innerHTML = s.html;
    $('cancel').hidden = s.type !== 'streaming';
    $('bar').hidden = s.type !== 'streaming';
    $('status').textContent = s.type === 'streaming' ? s.status : '';
    $('error').textContent = s.type === 'failed' ? s.message : '';
    $('footer').textContent = s.type === 'done' ? s.footer : '';
  });
  vscode.postMessage({ type: 'ready' });
</script>
</body>
</html>`;
}
