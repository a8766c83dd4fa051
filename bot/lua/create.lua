-- A new incident, unless this request (a modal's view id) already made one. Its escalations, phase windows
-- and targets are scheduled in the same step: once a declare is stored, nothing more is needed for the bot
-- to escalate it, whatever fails afterwards.
local inc, idem, open, stream, seen, by_playbook, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local without_channel = KEYS[8]
local id, ttl, event_id, actor, at, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local nplan = tonumber(ARGV[7])
local existing = redis.call('GET', idem)
if existing then return {'dup', existing} end
redis.call('SET', idem, id, 'EX', ttl)
local first_field = 8 + 2 * nplan
for i = 8, first_field - 1, 2 do redis.call('ZADD', due, 'NX', ARGV[i + 1], ARGV[i]) end
for i = first_field, #ARGV, 2 do redis.call('HSET', inc, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', inc, 'version', 1)
redis.call('SADD', open, id)
redis.call('ZADD', without_channel, now_ms(), id)
redis.call('HINCRBY', by_playbook, redis.call('HGET', inc, 'playbook'), 1)
add_event(stream, seen, event_id, 'declared', actor, at, data)
return {'ok', id}
