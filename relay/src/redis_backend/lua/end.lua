-- Deletes a session's keys and frees its code.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] names key, KEYS[4] away key
-- ARGV[1] key prefix, ARGV[2] session id
-- Returns the ids of the agents the session still had.
local code = redis.call('HGET', KEYS[1], 'code')
local agents = redis.call('HKEYS', KEYS[2])
if code then
  local code_key = ARGV[1] .. 'code:' .. code
  -- Only if it still names this session (it always should; a code is
  -- claimed with NX and freed only here or by its TTL).
  if redis.call('GET', code_key) == ARGV[2] then
    redis.call('DEL', code_key)
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return agents
