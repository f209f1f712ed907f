-- Adds fields to a live session's hash (history entries, offered hashes);
-- new history fields only while the hash has fewer than ARGV[1] fields.
-- KEYS[1] session hash; ARGV[1] field limit, ARGV[2..] field, value pairs
-- Returns 0 if the session is gone (nothing is written: a key without a TTL
-- must never be created), else 1.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local len = redis.call('HLEN', KEYS[1])
local limit = tonumber(ARGV[1])
for i = 2, #ARGV - 1, 2 do
  local field = ARGV[i]
  if len < limit or redis.call('HEXISTS', KEYS[1], field) == 1 then
    len = len + redis.call('HSET', KEYS[1], field, ARGV[i + 1])
  end
end
return 1
