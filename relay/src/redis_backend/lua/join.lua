-- Adds an agent to the session a join code names, with the next id, and
-- spends the code: it admits one agent, and the session gets a fresh one.
-- KEYS[1] code key
-- ARGV[1] key prefix, ARGV[2] agent limit, ARGV[3] session ttl in ms,
-- ARGV[4] code ttl in ms, ARGV[5] the mode the agent asks for ('view' or
-- 'shared'), ARGV[6..] candidate fresh codes (drawn by the relay; the first
-- free one is taken)
-- An agent's entry in the agents hash is '<state>:<mode>', state 'pending'
-- or 'admitted': one field, so state and mode change together.
-- Returns {'ok', session, agent id, page url, fresh code or ''},
-- {'unknown'} or {'full'}.
-- The session's keys are derived here from the code's value, which is why
-- they are not in KEYS: this relay uses one Redis, not a cluster.
local session = redis.call('GET', KEYS[1])
if not session then
  return {'unknown'}
end
local session_key = ARGV[1] .. 'session:' .. session
local agents_key = session_key .. ':agents'
local page_url = redis.call('HGET', session_key, 'page_url')
if not page_url then
  return {'unknown'}
end
if redis.call('HLEN', agents_key) >= tonumber(ARGV[2]) then
  return {'full'}
end
local agent = redis.call('HINCRBY', session_key, 'last_agent', 1)
redis.call('HSET', agents_key, agent, 'pending:' .. ARGV[5])
redis.call('PEXPIRE', agents_key, ARGV[3])
redis.call('DEL', KEYS[1])
local fresh = ''
for i = 6, #ARGV do
  if redis.call('SET', ARGV[1] .. 'code:' .. ARGV[i], session, 'NX', 'PX', ARGV[4]) then
    fresh = ARGV[i]
    break
  end
end
if fresh == '' then
  redis.call('HDEL', session_key, 'code')
else
  redis.call('HSET', session_key, 'code', fresh)
end
return {'ok', session, tostring(agent), page_url, fresh}
