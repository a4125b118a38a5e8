-- Shared by the headless Neovim scripts in this folder (loaded with dofile).
local M = {}

function M.getenv(name)
  local value = os.getenv(name)
  assert(value and value ~= "", "missing environment variable " .. name)
  return value
end

-- The text of the first floating window (a hover or an answer), or nil.
function M.float_text()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      return table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
    end
  end
  return nil
end

-- Waits until ragls has indexed its first folder (the first sync ended with files in the index).
function M.wait_indexed(client, bufnr)
  assert(vim.wait(20000, function()
    local response = client.request_sync("ragls/status", {}, 2000, bufnr)
    local folders = response and response.result and response.result.folders
    return folders ~= nil and #folders > 0 and not folders[1].indexing and folders[1].files > 0
  end, 100), "ragls did not finish indexing")
end

function M.stop(client_id)
  vim.lsp.stop_client(client_id)
  vim.wait(3000, function() return vim.lsp.client_is_stopped(client_id) end, 20)
end

-- Runs body; exits Neovim non-zero with the error on failure (else a failure would hang).
function M.run(name, body)
  local ok, err = pcall(body)
  if not ok then
    io.stderr:write(name .. " failed: " .. tostring(err) .. "\n")
    vim.cmd("cquit 1")
  else
    vim.cmd("qall!")
  end
end

return M
