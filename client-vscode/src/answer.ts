/**
 * Server answer → what the user sees: Markdown with clickable citation markers, a sources list,
 * and the editor location of each citation. Needs only vscode's plain types (Uri, Range,
 * Position, Location), so the unit tests run it with the stub.
 */
import * as vscode from 'vscode';
import MarkdownIt from 'markdown-it';
import { AskResult, Citation, LspRange } from './protocol';

export function toRange(range: LspRange): vscode.Range {
  return new vscode.Range(
    new vscode.Position(range.start.line, range.start.character),
    new vscode.Position(range.end.line, range.end.character),
  );
}

export function citationLocation(citation: Citation): vscode.Location {
  return new vscode.Location(vscode.Uri.parse(citation.uri), toRange(citation.range));
}

/** Arguments for `vscode.open` that open the cited file with the cited lines selected. */
export function openCitationArgs(citation: Citation): [vscode.Uri, { selection: vscode.Range; preview: boolean }] {
  return [vscode.Uri.parse(citation.uri), { selection: toRange(citation.range), preview: true }];
}

/** 1-based inclusive first and last line (an end at column 0 of a later line is exclusive). */
export function citedLines(range: LspRange): { first: number; last: number } {
  const first = range.start.line + 1;
  let last = range.end.line + 1;
  if (range.end.character === 0 && range.end.line > range.start.line) {
    last -= 1;
  }
  return { first, last: Math.max(first, last) };
}

/** "docs/retry.md:12-20" (or ":12" for one line). */
export function citationLabel(citation: Citation, relativePath: (uri: string) => string): string {
  const { first, last } = citedLines(citation.range);
  return `${relativePath(citation.uri)}:${first === last ? first : `${first}-${last}`}`;
}

/** Fragment link the answer webview turns into "open this citation". */
export function citationHref(id: number): string {
  return `#ragls-cite-${id}`;
}

export function citationIdFromHref(href: string): number | undefined {
  const match = /#ragls-cite-(\d+)$/.exec(href);
  return match ? Number(match[1]) : undefined;
}

const MARKER = /(?<!\])\[(\d+(?:\s*,\s*\d+)*)\](?![(\[:])/g;

/**
 * Replaces citation markers (`[2]`, `[1, 3]`) whose ids are known with Markdown links. Markers in
 * code spans and fenced code stay as they are, and so do existing links (`[1](…)`, `[1][ref]`).
 */
export function linkCitationMarkers(markdown: string, ids: ReadonlySet<number>, href: (id: number) => string): string {
  return splitCode(markdown)
    .map(({ text, code }) =>
      code
        ? text
        : text.replace(MARKER, (whole, list: string) => {
            const numbers = list.split(',').map((n) => Number(n.trim()));
            if (!numbers.every((n) => ids.has(n))) {
              return whole;
            }
            return numbers.map((n) => `[\\[${n}\\]](${href(n)})`).join('');
          }),
    )
    .join('');
}

/** Splits Markdown into code (fences, inline code spans) and prose parts, in order. */
export function splitCode(markdown: string): { text: string; code: boolean }[] {
  const parts: { text: string; code: boolean }[] = [];
  const pattern = /(^|\n)(```|~~~)[^\n]*\n[\s\S]*?(\n\2[^\n]*(?=\n|$)|$)|`+[^`\n]*?`+/g;
  let last = 0;
  for (let m = pattern.exec(markdown); m !== null; m = pattern.exec(markdown)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    if (m.index > last) {
      parts.push({ text: markdown.slice(last, m.index), code: false });
    }
    parts.push({ text: m[0], code: true });
    last = m.index + m[0].length;
  }
  if (last < markdown.length) {
    parts.push({ text: markdown.slice(last), code: false });
  }
  return parts;
}

export function escapeMarkdownText(text: string): string {
  return text.replace(/([\\`*_{}\[\]<>()#+!|])/g, '\\$1');
}

/**
 * The server marks query matches in snippets with `**…**` (core/types.py): keep those as bold,
 * show everything else literally (a snippet is a quote, not Markdown to interpret).
 */
export function snippetMarkdown(snippet: string): string {
  return snippet
    .split(/\*\*(.+?)\*\*/)
    .map((part, i) => (i % 2 === 1 ? `**${escapeMarkdownText(part)}**` : escapeMarkdownText(part)))
    .join('');
}

/** Citation snippet as one line of at most `max` characters. */
export function shortSnippet(snippet: string, max = 160): string {
  const flat = snippet.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1).trimEnd() + '…' : flat;
}

/**
 * The full Markdown of a finished answer for the answer view: the answer with linked markers, a
 * note when the workspace did not cover the question or the index was incomplete, warnings, and
 * the numbered sources.
 */
export function answerMarkdown(
  result: AskResult,
  relativePath: (uri: string) => string,
  href: (id: number) => string = citationHref,
): string {
  const ids = new Set(result.citations.map((c) => c.id));
  const out: string[] = [linkCitationMarkers(result.answer.trim(), ids, href)];
  const notes = resultNotes(result);
  if (notes.length > 0) {
    out.push(notes.map((n) => `> ${escapeMarkdownText(n)}`).join('\n>\n'));
  }
  if (result.citations.length > 0) {
    const lines = result.citations.map((c) => {
      const title = c.title ? ` — ${escapeMarkdownText(c.title)}` : '';
      // Two trailing spaces: a hard line break inside the list item, snippet below the link.
      const snippet = c.snippet ? `  \n   ${snippetMarkdown(shortSnippet(c.snippet))}` : '';
      return `${c.id}. [${escapeMarkdownText(citationLabel(c, relativePath))}](${href(c.id)})${title}${snippet}`;
    });
    out.push('**Sources**\n\n' + lines.join('\n'));
  }
  return out.join('\n\n');
}

/** What to say besides the answer: not covered, an incomplete index, the server's warnings (plain text). */
export function resultNotes(result: AskResult): string[] {
  const notes: string[] = [];
  if (result.abstained) {
    notes.push('The workspace does not seem to cover this question.');
  }
  if (!result.indexComplete) {
    notes.push('Indexing was still running; the answer may miss files.');
  }
  notes.push(...result.warnings);
  return notes;
}

/** One-line source description used in the output channel. */
export function sourceLine(citation: Citation, relativePath: (uri: string) => string): string {
  const title = citation.title ? ` — ${citation.title}` : '';
  return `[${citation.id}] ${citationLabel(citation, relativePath)}${title}`;
}

const markdownIt = new MarkdownIt({ html: false, linkify: false, breaks: false });

/** Markdown → HTML for the webview. Raw HTML in the answer is escaped, never rendered. */
export function renderMarkdown(markdown: string): string {
  return markdownIt.render(markdown);
}

/** Label for the answer's source ("extractive", "model:qwen.gguf", "remote:gpt"). */
export function describeSource(source: string): string {
  if (source === 'extractive') {
    return 'passages quoted from the workspace (no model configured)';
  }
  if (source.startsWith('model:')) {
    return `local model ${source.slice('model:'.length)}`;
  }
  if (source.startsWith('remote:')) {
    return `remote model ${source.slice('remote:'.length)}`;
  }
  return source;
}
