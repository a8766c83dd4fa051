-- Mark the RCA reviewed, once; its reminder is dropped (CLAIM and CONFIRM check again in a race).
local inc, steps, stream, seen, due, job = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local member, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local rca = redis.call('HGET', inc, 'rca_status')
if rca == 'reviewed' then return {'already', redis.call('HGET', inc, 'rca_reviewed_by')} end
if rca ~= 'due' then return {'not_due'} end
redis.call('HSET', inc, 'rca_status', 'reviewed', 'rca_reviewed_by', actor, 'rca_reviewed_at', now)
bump(inc)
redis.call('ZREM', due, member)
redis.call('DEL', job)
add_event(stream, seen, event_id, 'rca_reviewed', actor, now, data)
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
