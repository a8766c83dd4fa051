-- A part's message was just posted: keep its ts (and any other field, like the channel id), and record
-- that Slack shows `version` with `digest`, so the sync that follows makes no call when nothing moved.
-- The version goes up: a caller drawing the part right now (from a snapshot without the ts) must look
-- again before it lets go.
local inc, rendered = KEYS[1], KEYS[2]
local part, version, digest = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if redis.call('EXISTS', inc) == 0 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', inc, ARGV[i], ARGV[i + 1]) end
local shown = tonumber(redis.call('HGET', rendered, part) or '-1')
if version >= shown then redis.call('HSET', rendered, part, version, part .. '#', digest) end
bump(inc)
return 1
