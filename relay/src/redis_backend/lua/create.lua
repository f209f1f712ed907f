-- Claims a join code and records the session it names, or does nothing if
-- the code is taken (by any relay).
-- KEYS[1] code key, KEYS[2] session key
-- ARGV[1] session id, ARGV[2] code, ARGV[3] page url, ARGV[4] session ttl
-- in ms, ARGV[5] code ttl in ms (the code expires on its own when unused;
-- the session's keys are renewed while the visitor stays), ARGV[6] the
-- session's resume token
-- Returns 1 when created, 0 when the code is taken.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[5]) then
  return 0
end
redis.call('HSET', KEYS[2], 'code', ARGV[2], 'page_url', ARGV[3], 'last_agent', 0,
  'resume', ARGV[6], 'visitor', 'here')
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
