-- Sets an admitted agent's mode.
-- KEYS[1] agents key
-- ARGV[1] agent id, ARGV[2] mode ('view' or 'shared')
-- Returns 'changed', 'unchanged', 'pending' (not admitted yet: no mode to
-- change) or 'gone' (left, never joined, or the session ended).
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then
  return 'gone'
end
local state, mode = string.match(entry, '^(%a+):(%a+)$')
if state ~= 'admitted' then
  return 'pending'
end
if mode == ARGV[2] then
  return 'unchanged'
end
redis.call('HSET', KEYS[1], ARGV[1], 'admitted:' .. ARGV[2])
return 'changed'
