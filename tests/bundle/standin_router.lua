-- The APISIX stand-in's router: the agent's routes and upstreams evaluated with APISIX's
-- semantics for the fields the agent emits (see apisix_standin.py).
local cjson = require("cjson.safe")

local _M = {}
local routes, upstreams, plugins = {}, {}, {}

function _M.load(path)
  local f = assert(io.open(path))
  local objects = assert(cjson.decode(f:read("*a")))
  f:close()
  routes, upstreams, plugins = objects.routes, objects.upstreams, objects.plugins or {}
  -- APISIX: higher priority first.
  table.sort(routes, function(a, b) return (a.priority or 0) > (b.priority or 0) end)
end

local function host_matches(route, host)
  if not route.hosts then return true end
  host = (host or ""):lower()
  for _, h in ipairs(route.hosts) do
    if h == host then return true end
    if h:sub(1, 1) == "*" and host:sub(-(#h - 1)) == h:sub(2) then return true end
  end
  return false
end

local function uri_matches(route, uri)
  for _, u in ipairs(route.uris or { route.uri }) do
    if u:sub(-1) == "*" then
      if uri:sub(1, #u - 1) == u:sub(1, -2) then return true end
    elseif u == uri then
      return true
    end
  end
  return false
end

-- lua-resty-expr: {var, op, value} or {var, "!", op, value}; ctx.var falls back to ngx.var.
local function var_matches(expr)
  local name, negate, op, value = expr[1], false, expr[2], expr[3]
  if op == "!" then negate, op, value = true, expr[3], expr[4] end
  local actual = ngx.var[name]
  local hit
  if op == "==" then
    hit = actual ~= nil and actual == value
  elseif op == "~=" then
    hit = actual ~= value
  elseif op == "~~" then
    hit = actual ~= nil and ngx.re.find(actual, value, "jo") ~= nil
  elseif op == "~*" then
    hit = actual ~= nil and ngx.re.find(actual, value, "joi") ~= nil
  else
    ngx.log(ngx.ERR, "stand-in: unsupported vars operator ", op)
    hit = false
  end
  if negate then return not hit end
  return hit
end

local function route_matches(route)
  if not host_matches(route, ngx.var.host) or not uri_matches(route, ngx.var.uri) then return false end
  for _, expr in ipairs(route.vars or {}) do
    if not var_matches(expr) then return false end
  end
  return true
end

function _M.access()
  for _, route in ipairs(routes) do
    if route_matches(route) then
      local plugins = route.plugins or {}
      local serverless = plugins["serverless-pre-function"]
      if serverless then
        for _, code in ipairs(serverless.functions) do
          local fn = assert(loadstring(code))()
          fn(serverless, {})
        end
      end
      local rewrite = plugins["proxy-rewrite"]
      if rewrite and rewrite.headers then
        for k, v in pairs(rewrite.headers.set or {}) do ngx.req.set_header(k, v) end
        for k, v in pairs(rewrite.headers.add or {}) do ngx.req.set_header(k, v) end
      end
      local upstream = upstreams[route.upstream_id]
      if not upstream or not upstream.nodes or #upstream.nodes == 0 then
        return ngx.exit(502)  -- APISIX: "no valid upstream node"
      end
      local node = upstream.nodes[1]
      local host = node.host
      if host:find(":", 1, true) then host = "[" .. host .. "]" end
      ngx.var.upstream_target = host .. ":" .. node.port
      return
    end
  end
  ngx.status = 404
  ngx.say('{"error_msg":"404 Route Not Found"}')
  return ngx.exit(404)
end

-- What APISIX's control API answers at /v1/plugins/list: the enabled plugins.
function _M.plugins()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(plugins))
end

return _M
