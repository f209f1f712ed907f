-- Deletes everything about a session's resources (the shared level stays).
-- KEYS[1] session hash; ARGV[1] prefix of upload keys for this session
local index = redis.call('HMGET', KEYS[1], 'key_index', 'token_index')
for _, key in ipairs(index) do
  if key then
    redis.call('DEL', key)
  end
end
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 'p:' then
    redis.call('DEL', ARGV[1] .. string.sub(field, 3))
  end
end
redis.call('DEL', KEYS[1])
return 1
