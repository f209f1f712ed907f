-- Sets a marker field once.
-- KEYS[1] session hash; ARGV[1] field
-- Returns 1 if newly set, 0 if it was set already or the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return redis.call('HSETNX', KEYS[1], ARGV[1], 1)
