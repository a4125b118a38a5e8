-- Headless Neovim (0.7+) as a real LSP client of ragls: start the server, open a file, hover a
-- symbol through the UI (vim.lsp.buf.hover) and through a raw request, print what came back.
-- Driven by tests/editors/test_neovim.py; inputs arrive in environment variables.
-- The helpers next to this script (getenv, float_text, wait_indexed, stop, run).
local helpers = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "editor_helpers.lua")
local getenv, float_text = helpers.getenv, helpers.float_text

helpers.run("neovim hover test", function()
  local root = getenv("RAGLS_TEST_ROOT")
  local file = getenv("RAGLS_TEST_FILE")
  local line = tonumber(getenv("RAGLS_TEST_LINE")) -- 1-based, as nvim_win_set_cursor wants
  local col = tonumber(getenv("RAGLS_TEST_COL")) -- 0-based byte column

  local client_id = vim.lsp.start_client({
    name = "ragls",
    cmd = { getenv("RAGLS_TEST_PYTHON"), "-m", "ragls", "--stdio" },
    root_dir = root,
    init_options = { index = { indexDir = getenv("RAGLS_TEST_INDEX_DIR") } },
  })
  assert(client_id, "the ragls client did not start")
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(15000, function() return client.initialized end, 20), "ragls did not initialize")

  helpers.wait_indexed(client, bufnr)

  -- the raw protocol answer
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/hover", {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = line - 1, character = col },
  }, 10000)
  local raw = nil
  for _, response in pairs(responses or {}) do
    if response.result and response.result.contents then
      raw = response.result.contents.value
    end
  end
  assert(raw, "no hover result")
  io.stdout:write("RAW-BEGIN\n" .. raw .. "\nRAW-END\n")

  -- the UI path: cursor on the symbol, K-style hover, read the floating window
  vim.api.nvim_win_set_cursor(0, { line, col })
  vim.lsp.buf.hover()
  local shown = nil
  vim.wait(10000, function()
    shown = float_text()
    return shown ~= nil
  end, 20)
  assert(shown, "no hover window appeared")
  io.stdout:write("FLOAT-BEGIN\n" .. shown .. "\nFLOAT-END\n")

  helpers.stop(client_id)
end)
