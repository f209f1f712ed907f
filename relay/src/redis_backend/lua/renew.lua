-- Renews the TTL of a live session's keys. Never recreates a key: a session
-- that ended (or expired) stays gone. The join code keeps its own TTL: an
-- unused code expires however long the session lives.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] names key (the away
-- key keeps its own TTL: it is the grace window), KEYS[4] and KEYS[5] the
-- replay buffer and its meta hash, KEYS[6] the agents' rejoin records
-- ARGV[1] ttl in ms
-- Returns 1 if the session was there, 0 if not.
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[5], ARGV[1])
redis.call('PEXPIRE', KEYS[6], ARGV[1])
return 1
