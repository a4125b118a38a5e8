import * as assert from 'assert';
import './vscodeStub';
import {
  answerMarkdown, citationHref, citationIdFromHref, citationLabel, citationLocation, citedLines,
  describeSource, linkCitationMarkers, openCitationArgs, renderMarkdown, snippetMarkdown, splitCode,
} from '../answer';
import { AskResult, Citation } from '../protocol';

const retry: Citation = {
  id: 1,
  uri: 'file:///ws/docs/retry.md',
  range: { start: { line: 11, character: 0 }, end: { line: 19, character: 0 } },
  title: 'Retry policy',
  snippet: '`retry_policy` retries\nfailed requests   three times.',
};
const client: Citation = {
  id: 2,
  uri: 'file:///ws/src/client.py',
  range: { start: { line: 4, character: 0 }, end: { line: 4, character: 30 } },
  title: 'client.py',
  snippet: 'policy = retry_policy(3)',
};
const rel = (uri: string) => uri.replace('file:///ws/', '');

function result(overrides: Partial<AskResult> = {}): AskResult {
  return {
    answer: 'Requests are retried three times [1], see the client [2].',
    citations: [retry, client],
    abstained: false,
    source: 'extractive',
    indexComplete: true,
    warnings: [],
    ...overrides,
  };
}

describe('citation locations', () => {
  it('maps a citation to the file and the LSP range', () => {
    const loc = citationLocation(retry);
    assert.strictEqual(loc.uri.toString(), 'file:///ws/docs/retry.md');
    assert.strictEqual(loc.range.start.line, 11);
    assert.strictEqual(loc.range.end.line, 19);
  });

  it('vscode.open arguments select the cited range', () => {
    const [uri, options] = openCitationArgs(client);
    assert.strictEqual(uri.fsPath, '/ws/src/client.py');
    assert.strictEqual(options.selection.start.line, 4);
    assert.strictEqual(options.selection.end.character, 30);
  });

  it('labels use 1-based inclusive lines; an end at column 0 is exclusive', () => {
    assert.deepStrictEqual(citedLines(retry.range), { first: 12, last: 19 });
    assert.strictEqual(citationLabel(retry, rel), 'docs/retry.md:12-19');
    assert.strictEqual(citationLabel(client, rel), 'src/client.py:5');
  });

  it('href round-trips to the id', () => {
    assert.strictEqual(citationIdFromHref(citationHref(7)), 7);
    assert.strictEqual(citationIdFromHref('https://example.com'), undefined);
  });
});

describe('linkCitationMarkers', () => {
  const ids = new Set([1, 2]);
  const href = (n: number) => `#c${n}`;

  it('links known markers and splits lists', () => {
    assert.strictEqual(linkCitationMarkers('A [1] and B [1, 2].', ids, href), 'A [\\[1\\]](#c1) and B [\\[1\\]](#c1)[\\[2\\]](#c2).');
  });

  it('leaves unknown ids, existing links and code alone', () => {
    const text = 'x [3] [1](http://a) [see][1] `call [1]`\n```\nlist[1]\n```\nend [2]';
    const out = linkCitationMarkers(text, ids, href);
    assert.ok(out.includes('x [3] [1](http://a) [see][1] `call [1]`\n```\nlist[1]\n```'));
    assert.ok(out.endsWith('end [\\[2\\]](#c2)'));
  });

  it('splitCode keeps every character in order', () => {
    const text = 'a `b` c\n```py\nd\n```\ne';
    assert.strictEqual(splitCode(text).map((p) => p.text).join(''), text);
    assert.deepStrictEqual(splitCode(text).filter((p) => p.code).map((p) => p.text), ['`b`', '\n```py\nd\n```']);
  });
});

describe('answerMarkdown and rendering', () => {
  it('renders markers as citation links and lists the sources with lines and snippet', () => {
    const html = renderMarkdown(answerMarkdown(result(), rel));
    assert.ok(html.includes('<a href="#ragls-cite-1">[1]</a>'), html);
    assert.ok(html.includes('<a href="#ragls-cite-2">[2]</a>'));
    assert.ok(html.includes('<a href="#ragls-cite-1">docs/retry.md:12-19</a> — Retry policy'), html);
    assert.ok(html.includes('retries failed requests three times.'), 'snippet flattened');
    assert.ok(html.includes('<strong>Sources</strong>'));
  });

  it('snippets keep the server\'s **match** highlights and show the rest literally', () => {
    const html = renderMarkdown(snippetMarkdown('`**retry**_**policy**` decides *how* <b>'));
    assert.strictEqual(html.trim(), '<p>`<strong>retry</strong>_<strong>policy</strong>` decides *how* &lt;b&gt;</p>');
  });

  it('notes abstention, incomplete index and warnings', () => {
    const md = answerMarkdown(result({ abstained: true, indexComplete: false, warnings: ['model failed: x'], citations: [], answer: 'Not covered.' }), rel);
    assert.match(md, /does not seem to cover/);
    assert.match(md, /Indexing was still running/);
    assert.match(md, /model failed: x/);
    assert.ok(!md.includes('Sources'));
  });

  it('escapes raw HTML from the answer', () => {
    const html = renderMarkdown(answerMarkdown(result({ answer: '<script>alert(1)</script> [1]' }), rel));
    assert.ok(!html.includes('<script>'));
    assert.ok(html.includes('&lt;script&gt;'));
  });

  it('describes where the answer came from', () => {
    assert.match(describeSource('extractive'), /quoted/);
    assert.strictEqual(describeSource('model:qwen.gguf'), 'local model qwen.gguf');
    assert.strictEqual(describeSource('remote:gpt'), 'remote model gpt');
  });
});
