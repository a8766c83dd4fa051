-- Record that the server running this is the primary `run_id` with replication history `replid` (what INFO
-- said on this same connection), from now on: kept as it is when it already names them, so `since` is the
-- first time any replica of the bot saw them. KEYS: the record. ARGV: run_id, replid. Returns since.
local rec = KEYS[1]
local seen = redis.call('HMGET', rec, 'run_id', 'replid', 'since')
if seen[1] == ARGV[1] and seen[2] == ARGV[2] and seen[3] then return tonumber(seen[3]) end
local now = now_ms()
redis.call('HSET', rec, 'run_id', ARGV[1], 'replid', ARGV[2], 'since', now)
return now
