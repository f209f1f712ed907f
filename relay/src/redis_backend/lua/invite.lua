-- Opens an agent's invitation: reserves a join code for the session the
-- visitor's page will start, unless the inviter already has an open
-- invitation or (a signed agent) is in a live session.
-- KEYS[1] the inviter's key (-> digest), KEYS[2] the agent's session claim
-- key, KEYS[3] the code key, KEYS[4] the invitation's code key (-> digest),
-- KEYS[5] the invitation hash
-- ARGV[1] key prefix, ARGV[2] digest, ARGV[3] inviter, ARGV[4] code,
-- ARGV[5] session id, ARGV[6] mode, ARGV[7] ttl in ms, ARGV[8] '1' when
-- the claim key counts
-- Returns 'ok', 'busy' or 'taken' (the code is in use: draw another).
local open = redis.call('GET', KEYS[1])
if open then
  -- A taken invitation whose session already ended no longer counts.
  local inv = ARGV[1] .. 'invite:' .. open
  local taken = redis.call('HGET', inv, 'taken')
  local session = redis.call('HGET', inv, 'session')
  if taken == '1' and session and redis.call('EXISTS', ARGV[1] .. 'session:' .. session) == 0 then
    local code = redis.call('HGET', inv, 'code')
    if code and redis.call('GET', ARGV[1] .. 'invite:code:' .. code) == open then
      redis.call('DEL', ARGV[1] .. 'invite:code:' .. code)
    end
    redis.call('DEL', inv, KEYS[1])
  elseif taken then
    return 'busy'
  else
    redis.call('DEL', KEYS[1])
  end
end
if ARGV[8] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return 'busy'
end
if not redis.call('SET', KEYS[3], ARGV[5], 'NX', 'PX', ARGV[7]) then
  return 'taken'
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[7])
redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[7])
redis.call('HSET', KEYS[5], 'inviter', ARGV[3], 'code', ARGV[4], 'session', ARGV[5],
  'mode', ARGV[6], 'taken', '0')
redis.call('PEXPIRE', KEYS[5], ARGV[7])
return 'ok'
