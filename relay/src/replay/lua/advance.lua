-- Moves an agent's rejoin record on from one generation, only if it is
-- still at that generation (two claims on one place cannot both win).
-- KEYS[1] the session's rejoin hash
-- ARGV[1] agent id, ARGV[2] the expected generation, ARGV[3] '1' to delete
-- the record instead of moving it on
-- Returns 1 if it moved, 0 if someone else moved it first or it is gone.
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then
  return 0
end
local sep = string.find(record, ':', 1, true)
if not sep or string.sub(record, 1, sep - 1) ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  local next = tostring(tonumber(ARGV[2]) + 1)
  redis.call('HSET', KEYS[1], ARGV[1], next .. string.sub(record, sep))
end
return 1
