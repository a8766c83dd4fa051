-- `/incident page <role>`: while the incident is open, the role is paged (a trigger already waiting for it is
-- not queued twice) and the request goes on the timeline.
local inc, stream, seen, queue, pager, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local role, dedup, why, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
if redis.call('HGET', inc, 'status') ~= 'open' then return {'closed'} end
queue_trigger(queue, pager, index, redis.call('HGET', inc, 'id'), role, dedup, why)
add_event(stream, seen, event_id, 'page_requested', actor, now, data)
return {'ok'}
