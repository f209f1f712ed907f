-- Finds a session by one of its secrets' index keys.
-- KEYS[1] index key; ARGV[1] prefix of session hashes
-- Returns {session id, policy} or nil.
local session = redis.call('GET', KEYS[1])
if not session then
  return false
end
local policy = redis.call('HGET', ARGV[1] .. session, 'policy')
if not policy then
  return false
end
return {session, policy}
