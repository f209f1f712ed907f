-- Ends a session whose grace window passed without a resume; otherwise
-- says where it stands.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] names key, KEYS[4] away key
-- ARGV[1] key prefix, ARGV[2] session id
-- Returns {'gone'}, {'back'} (a visitor resumed it), {'waiting', ms left}
-- or {'ended', agent ids...}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
if redis.call('HGET', KEYS[1], 'visitor') ~= 'away' then
  return {'back'}
end
local left = redis.call('PTTL', KEYS[4])
if left > 0 then
  return {'waiting', tostring(left)}
end
local code = redis.call('HGET', KEYS[1], 'code')
local out = {'ended'}
for _, agent in ipairs(redis.call('HKEYS', KEYS[2])) do
  table.insert(out, agent)
end
if code then
  local code_key = ARGV[1] .. 'code:' .. code
  if redis.call('GET', code_key) == ARGV[2] then
    redis.call('DEL', code_key)
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return out
