/**
 * Typed mirror of the ragls custom LSP protocol (docs/PROTOCOL.md, protocolVersion 1).
 * The Python side is server/ragls/lsp/protocol.py; a change to either bumps PROTOCOL_VERSION.
 *
 * Plain types only (no vscode import) so every module and the unit tests can use them.
 * Positions are LSP positions: 0-based line, UTF-16 character.
 */

export const PROTOCOL_VERSION = 1;

export const Methods = {
  ask: 'ragls/ask',
  status: 'ragls/status',
} as const;

export const Commands = {
  ask: 'ragls.ask',
  status: 'ragls.status',
  reindex: 'ragls.reindex',
} as const;

/** JSON-RPC / LSP error codes the client reacts to. */
export const ErrorCodes = {
  InvalidParams: -32602,
  RequestCancelled: -32800,
  ServerCancelled: -32802,
  ContentModified: -32801,
  ConnectionInactive: -32002,
} as const;

export interface LspPosition { line: number; character: number }
export interface LspRange { start: LspPosition; end: LspPosition }

export interface AdapterChoice { name: string; scale?: number }

export interface AskParams {
  question: string;
  textDocument?: { uri: string };
  position?: LspPosition;
  range?: LspRange;
  workDoneToken?: string | number;
  adapters?: AdapterChoice[];
  maxPassages?: number;
  temperature?: number;
  seed?: number;
}

export interface Citation {
  id: number;
  uri: string;
  range: LspRange;
  title: string;
  snippet: string;
}

export interface AskResult {
  answer: string;
  citations: Citation[];
  abstained: boolean;
  source: string; // "extractive" | "model:<file>" | "remote:<model>"
  indexComplete: boolean;
  warnings: string[];
}

export type WatcherKind = 'inotify' | 'polling' | 'off';

export interface FolderStatus {
  uri: string;
  indexDir: string;
  files: number;
  chunks: number;
  pendingChanges: number;
  indexing: boolean;
  lastUpdate: string | null;
  skipped: Record<string, number>;
  redactedSecrets: number; // secret values replaced by [REDACTED] in what is indexed
  watcher: WatcherKind;
  error?: string; // why the folder is not (fully) indexed, e.g. it was deleted
}

export type ModelState = 'none' | 'loading' | 'ready' | 'failed';

export interface ModelStatus {
  state: ModelState;
  detail: string;
  path: string | null;
  adapters: { name: string; scale: number; active: boolean }[];
  warnings: string[]; // e.g. a refused adapter, a clamped context, no chat template
  processId: number | null; // the model process (local models, while ready)
  rssMb: number | null; // its resident memory
  recentCrashes: number; // crashes of the model process in the last 5 minutes
  lastCrash: string | null; // e.g. "SIGSEGV (segmentation fault)"
}

export interface StatusResult {
  version: string;
  protocolVersion: number;
  folders: FolderStatus[];
  model: ModelStatus;
}

export interface ReindexResult { started: boolean }

/** `$/progress` values of a work-done progress (LSP WorkDoneProgressBegin/Report/End). */
export interface ProgressBegin { kind: 'begin'; title: string; message?: string; cancellable?: boolean; percentage?: number }
export interface ProgressReport { kind: 'report'; message?: string; cancellable?: boolean; percentage?: number }
export interface ProgressEnd { kind: 'end'; message?: string }
export type ProgressValue = ProgressBegin | ProgressReport | ProgressEnd;

/** Title of the server-created indexing progress. */
export const INDEXING_PROGRESS_TITLE = 'ragls: indexing';

// --- settings (initializationOptions and workspace/configuration section "ragls") -----------

export interface AdapterSpec { name?: string; path: string; scale?: number }

export interface ServerSettings {
  index: {
    include: string[];
    exclude: string[];
    maxFileSizeKb: number;
    indexDir: string | null;
    respectGitignore: boolean;
  };
  retrieval: { passages: number; maxPerFile: number; contextPages: number };
  hover: { enabled: boolean; adapters: string[] };
  model: {
    path: string | null;
    gpuLayers: number;
    contextSize: number;
    threads: number | null;
    weightRepacking: 'auto' | 'on' | 'off';
    groundedGuard: boolean;
    maxTokens: number;
    temperature: number;
    seed: number | null;
    adapters: AdapterSpec[];
    defaultAdapters: string[];
    remote: { url: string | null; apiKey: string | null; model: string | null };
  };
}

/** The server's defaults (server/ragls/settings.py); the client sends every key explicitly. */
export const DEFAULT_SERVER_SETTINGS: ServerSettings = {
  index: { include: [], exclude: [], maxFileSizeKb: 1024, indexDir: null, respectGitignore: true },
  retrieval: { passages: 5, maxPerFile: 2, contextPages: 2 },
  hover: { enabled: true, adapters: [] },
  model: {
    path: null,
    gpuLayers: -1,
    contextSize: 4096,
    threads: null,
    weightRepacking: 'auto',
    groundedGuard: true,
    maxTokens: 512,
    temperature: 0.2,
    seed: null,
    adapters: [],
    defaultAdapters: [],
    remote: { url: null, apiKey: null, model: null },
  },
};
