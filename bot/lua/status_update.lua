-- A status update: on the timeline once per event id (a resubmitted modal adds nothing), counted in
-- `status_updates`. Only an open incident takes one, except the resolved update resolve itself posts.
-- No version bump: no message shows the count.
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local require_open, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
if require_open == '1' and redis.call('HGET', inc, 'status') ~= 'open' then return {'closed'} end
if redis.call('SISMEMBER', seen, event_id) == 1 then return {'dup'} end
add_event(stream, seen, event_id, 'status_update', actor, now, data)
redis.call('HINCRBY', inc, 'status_updates', 1)
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
