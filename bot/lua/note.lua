-- An event from outside (a PagerDuty webhook) goes on the timeline once per event id, however often it is
-- delivered: 1 when this delivery was the first.
local inc, stream, seen = KEYS[1], KEYS[2], KEYS[3]
local actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 or redis.call('SISMEMBER', seen, event_id) == 1 then return 0 end
add_event(stream, seen, event_id, etype, actor, now, data)
return 1
