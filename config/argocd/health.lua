-- Argo CD health of an index.pkgindex.dev PackageIndex, read from the
-- conditions the operator sets: Ready (the summary), Progressing and
-- Degraded, each with the generation it describes. A status about an older
-- spec says nothing about the current one, so it counts as Progressing.
local hs = {}
local generation = obj.metadata.generation
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = {}
for _, c in ipairs(obj.status.conditions) do
  if generation == nil or c.observedGeneration == nil or c.observedGeneration >= generation then
    conditions[c.type] = c
  end
end
-- The health named by status, explained by condition c.
local function from(status, c)
  hs.status = status
  hs.message = (c.reason or "") .. ": " .. (c.message or "")
  return hs
end

local ready, progressing, degraded = conditions["Ready"], conditions["Progressing"], conditions["Degraded"]
if degraded ~= nil and degraded.status == "True" then
  return from("Degraded", degraded)
end
if ready ~= nil and ready.reason == "Suspended" then
  return from("Suspended", ready)
end
if progressing ~= nil and progressing.status == "True" then
  return from("Progressing", progressing)
end
if ready ~= nil and ready.status == "True" then
  return from("Healthy", ready)
end
if ready ~= nil then
  return from("Progressing", ready)
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
