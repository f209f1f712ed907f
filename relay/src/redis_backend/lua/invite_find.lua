-- Reads an open invitation by its digest, or by a join code (KEYS[1] the
-- invitation's code key, whose value is the digest) when ARGV[2] is '1'.
-- KEYS[1] the invitation hash, or the invitation's code key
-- ARGV[1] key prefix, ARGV[2] '1' to look up by code
-- Returns {digest, inviter, code, session, mode, taken, pttl} or {}.
local digest
local inv
if ARGV[2] == '1' then
  digest = redis.call('GET', KEYS[1])
  if not digest then
    return {}
  end
  inv = ARGV[1] .. 'invite:' .. digest
else
  inv = KEYS[1]
  digest = string.sub(inv, string.len(ARGV[1] .. 'invite:') + 1)
end
local f = redis.call('HMGET', inv, 'inviter', 'code', 'session', 'mode', 'taken')
if not f[1] then
  return {}
end
return {digest, f[1], f[2], f[3], f[4], f[5], tostring(redis.call('PTTL', inv))}
