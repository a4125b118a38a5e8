-- Headless Neovim 0.7 running the Lua of docs/EDITORS.md as a user would paste it (the 0.7 section
-- plus :RaglsAsk with the client lookup the doc says to change). Opens a file, waits for indexing,
-- runs :RaglsAsk and prints the quickfix list and the answer float. Driven by
-- tests/editors/test_neovim.py; inputs arrive in environment variables.
-- The helpers next to this script (getenv, float_text, wait_indexed, stop, run).
local helpers = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "editor_helpers.lua")
local getenv, float_text = helpers.getenv, helpers.float_text

helpers.run("neovim snippet test", function()
  dofile(getenv("RAGLS_TEST_SNIPPET"))
  vim.cmd("edit " .. vim.fn.fnameescape(getenv("RAGLS_TEST_FILE")))  -- BufReadPost attaches ragls
  local client = nil
  assert(vim.wait(15000, function()
    for _, c in pairs(vim.lsp.get_active_clients()) do
      if c.name == "ragls" and c.initialized then client = c end
    end
    return client ~= nil
  end, 20), "the snippet did not start ragls")
  helpers.wait_indexed(client, 0)

  vim.cmd("RaglsAsk " .. getenv("RAGLS_TEST_QUESTION"))
  assert(vim.wait(15000, function() return #vim.fn.getqflist() > 0 end, 20), "no citations in the quickfix list")
  local lines = {}
  for _, item in ipairs(vim.fn.getqflist()) do
    table.insert(lines, ("%s:%d: %s"):format(vim.fn.bufname(item.bufnr), item.lnum, item.text))
  end
  io.stdout:write("QF-BEGIN\n" .. table.concat(lines, "\n") .. "\nQF-END\n")
  local shown = nil
  vim.wait(5000, function() shown = float_text(); return shown ~= nil end, 20)
  assert(shown, "no answer float")
  io.stdout:write("FLOAT-BEGIN\n" .. shown .. "\nFLOAT-END\n")
  helpers.stop(client.id)
end)
