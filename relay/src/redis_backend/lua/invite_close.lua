-- Closes an invitation (its inviter joined, or cancelled it). When the
-- inviter cancels (ARGV[2] '1'), only its own, and an untaken invitation's
-- reserved code is freed too.
-- KEYS[1] the invitation hash, KEYS[2] the inviter's key
-- ARGV[1] key prefix, ARGV[2] '1' for a cancellation, ARGV[3] the inviter
-- (checked when cancelling), ARGV[4] digest
-- Returns {} when there was nothing to close, else {session, taken}.
local f = redis.call('HMGET', KEYS[1], 'inviter', 'code', 'session', 'taken')
if not f[1] then
  return {}
end
if ARGV[2] == '1' and f[1] ~= ARGV[3] then
  return {}
end
local code_key = ARGV[1] .. 'invite:code:' .. f[2]
if redis.call('GET', code_key) == ARGV[4] then
  redis.call('DEL', code_key)
end
if redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
end
if ARGV[2] == '1' and f[4] == '0' then
  local reserved = ARGV[1] .. 'code:' .. f[2]
  if redis.call('GET', reserved) == f[3] then
    redis.call('DEL', reserved)
  end
end
redis.call('DEL', KEYS[1])
return {f[3], f[4]}
