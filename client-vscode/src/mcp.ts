/**
 * Registers `ragls mcp` with VS Code's agent mode (the `mcpServerDefinitionProviders` contribution),
 * so installing the extension is enough: no `.vscode/mcp.json` to write. The MCP server is started
 * the way the language server is (`ragls.server.path` / `ragls.server.python` / `ragls` on PATH)
 * with the workspace folders and the same index folder, so both share one live index
 * (docs/AGENTS.md).
 *
 * The MCP API (`vscode.lm.registerMcpServerDefinitionProvider`, `McpStdioServerDefinition`) is
 * VS Code 1.101+. The extension builds against `@types/vscode` 1.91 and runs on VS Code 1.91+, so
 * the API is typed here and looked up at run time; on an older VS Code nothing is registered.
 */
import * as vscode from 'vscode';
import { quoteIfNeeded, ServerLaunch } from './settings';

export const MCP_PROVIDER_ID = 'ragls.mcp';
export const MCP_SERVER_LABEL = 'ragls';

export interface McpLaunch {
  command: string;
  args: string[];
  /** The command line as the user would type it, for the log. */
  display: string;
}

/** `ragls mcp FOLDER… [--index-dir DIR]`, with the executable or interpreter of the language server. */
export function mcpLaunch(server: ServerLaunch, folders: string[], indexDir?: string | null): McpLaunch {
  const args = [...server.args.filter((a) => a !== '--stdio'), 'mcp', ...folders];
  if (indexDir && indexDir.trim()) {
    args.push('--index-dir', indexDir.trim());
  }
  return { command: server.command, args, display: [server.command, ...args].map(quoteIfNeeded).join(' ') };
}

interface McpServerDefinitionProvider {
  readonly onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): unknown[];
}

/** The part of VS Code 1.101's API this module uses. */
interface McpApi {
  lm?: {
    registerMcpServerDefinitionProvider?(id: string, provider: McpServerDefinitionProvider): vscode.Disposable;
  };
  McpStdioServerDefinition?: new (
    label: string,
    command: string,
    args?: string[],
    env?: Record<string, string | number | null>,
    version?: string,
  ) => unknown;
}

export interface McpRegistration extends vscode.Disposable {
  /** The launch inputs changed (folders, server command, index folder): VS Code asks again. */
  changed(): void;
}

/**
 * Registers the provider when this VS Code has the MCP API; undefined otherwise. `launch()` is
 * asked each time VS Code wants the definitions (undefined: no folder open, nothing to serve).
 */
export function registerMcpServerProvider(launch: () => McpLaunch | undefined, version: string): McpRegistration | undefined {
  const api = vscode as unknown as McpApi;
  const register = api.lm?.registerMcpServerDefinitionProvider;
  const Definition = api.McpStdioServerDefinition;
  if (typeof register !== 'function' || typeof Definition !== 'function') {
    return undefined;
  }
  const emitter = new vscode.EventEmitter<void>();
  const registration = register.call(api.lm, MCP_PROVIDER_ID, {
    onDidChangeMcpServerDefinitions: emitter.event,
    provideMcpServerDefinitions: () => {
      const current = launch();
      // The version changes with the command line, so VS Code restarts a server whose launch changed.
      return current ? [new Definition(MCP_SERVER_LABEL, current.command, current.args, {}, `${version} ${current.display}`)] : [];
    },
  });
  return {
    changed: () => emitter.fire(),
    dispose: () => {
      registration.dispose();
      emitter.dispose();
    },
  };
}
