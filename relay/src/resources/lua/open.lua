-- Records a new session's resource secrets and policy.
-- KEYS[1] session hash, KEYS[2] key index, KEYS[3] token index
-- ARGV[1] session id, ARGV[2] key, ARGV[3] token, ARGV[4] policy, ARGV[5] ttl in ms
redis.call('HSET', KEYS[1], 'key', ARGV[2], 'token', ARGV[3], 'policy', ARGV[4],
  'used', 0, 'key_index', KEYS[2], 'token_index', KEYS[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[5])
return 1
