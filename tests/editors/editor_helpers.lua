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
