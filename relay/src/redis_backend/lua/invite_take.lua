-- A visitor's page takes an invitation up: marks it taken and creates its
-- session under the reserved code, with the visitor present.
-- KEYS[1] the invitation hash, KEYS[2] the code key, KEYS[3] the session key
-- ARGV[1] the session id the caller read, ARGV[2] page url, ARGV[3]
-- session ttl in ms, ARGV[4] the session's resume token
-- Returns 1 when taken, 0 when it is gone, taken already, or its code no
-- longer names the session.
local f = redis.call('HMGET', KEYS[1], 'session', 'taken', 'code')
if not f[1] or f[1] ~= ARGV[1] or f[2] ~= '0' then
  return 0
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'taken', '1')
redis.call('HSET', KEYS[3], 'code', f[3], 'page_url', ARGV[2], 'last_agent', 0,
  'resume', ARGV[4], 'visitor', 'here')
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
