/**
 * A small stand-in for the `vscode` module so the plain modules run under mocha without VS Code
 * (the approach vscode-python uses): `require('vscode')` returns this object. Only the value
 * types the modules use are real implementations; UI namespaces record calls for assertions.
 */
import Module = require('module');

export class Position {
  constructor(readonly line: number, readonly character: number) {}
  isEqual(other: Position): boolean {
    return this.line === other.line && this.character === other.character;
  }
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(start: Position, end: Position) {
    this.start = start;
    this.end = end;
  }
  get isEmpty(): boolean {
    return this.start.isEqual(this.end);
  }
}

export class Selection extends Range {
  constructor(readonly anchor: Position, readonly active: Position) {
    super(anchor, active);
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}

  static parse(value: string): Uri {
    const m = /^([a-zA-Z][\w+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(value);
    if (!m) {
      throw new Error(`stub Uri.parse: not a URI: ${value}`);
    }
    return new Uri(m[1], m[2] ?? '', decodeURIComponent(m[3]), m[4] ?? '', m[5] ?? '');
  }

  static file(path: string): Uri {
    return new Uri('file', '', path, '', '');
  }

  static joinPath(base: Uri, ...segments: string[]): Uri {
    return new Uri(base.scheme, base.authority, [base.path.replace(/\/$/, ''), ...segments].join('/'), '', '');
  }

  get fsPath(): string {
    return this.path;
  }

  toString(): string {
    const authority = this.scheme === 'file' || this.authority ? `//${this.authority}` : '';
    return `${this.scheme}:${authority}${encodeURI(this.path)}${this.query ? '?' + this.query : ''}${this.fragment ? '#' + this.fragment : ''}`;
  }
}

export class Location {
  constructor(readonly uri: Uri, readonly range: Range) {}
}

export class MarkdownString {
  constructor(public value = '') {}
  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }
}

export class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  readonly event = (listener: (e: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    for (const l of this.listeners.slice()) {
      l(e);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  private cancelled = false;
  readonly token: { readonly isCancellationRequested: boolean; onCancellationRequested: (l: () => void) => { dispose(): void } };

  constructor() {
    const emitter = this.emitter;
    const isCancelled = () => this.cancelled;
    this.token = {
      get isCancellationRequested() {
        return isCancelled();
      },
      onCancellationRequested: (listener: () => void) => emitter.event(listener),
    };
  }

  cancel(): void {
    if (!this.cancelled) {
      this.cancelled = true;
      this.emitter.fire();
    }
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export const ViewColumn = { Active: -1, Beside: -2, One: 1 };
export const StatusBarAlignment = { Left: 1, Right: 2 };

/** Every `commands.executeCommand` call, for assertions. */
export const executed: unknown[][] = [];

/** What tests set: `stub.chat = {...}` to simulate a VS Code with the Chat API. */
export const vscodeStub: Record<string, unknown> = {
  Position,
  Range,
  Selection,
  Uri,
  Location,
  MarkdownString,
  EventEmitter,
  CancellationTokenSource,
  ViewColumn,
  StatusBarAlignment,
  workspace: {
    workspaceFolders: undefined,
    getConfiguration: () => ({ get: () => undefined }),
    asRelativePath: (uri: Uri | string) => (typeof uri === 'string' ? uri : uri.path),
  },
  window: {},
  commands: {
    executed,
    executeCommand(...args: unknown[]): Promise<void> {
      executed.push(args);
      return Promise.resolve();
    },
  },
  chat: undefined,
  // VS Code 1.101's MCP API (src/mcp.ts): tests set both to simulate a VS Code that has it.
  lm: undefined,
  McpStdioServerDefinition: undefined,
};

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoad = Module as unknown as { _load: Loader };
const originalLoad = moduleWithLoad._load;
moduleWithLoad._load = function (request: string, parent: unknown, isMain: boolean) {
  if (request === 'vscode') {
    return vscodeStub;
  }
  return originalLoad.call(this, request, parent, isMain);
};
