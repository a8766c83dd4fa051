-- A PagerDuty event is done with: PagerDuty took it, refused it for good, or it was given up. It leaves the
-- queue and what happened goes on the timeline, once: 1 when this call recorded it (and so may say so in
-- Slack), 0 when it was recorded before or the claim is no longer ours (its lease ran out).
local queue, job, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, owner, event_id, etype, actor, at, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('HGET', job, 'owner') ~= owner then return 0 end
redis.call('ZREM', queue, member)
redis.call('DEL', job)
if redis.call('SISMEMBER', seen, event_id) == 1 then return 0 end
add_event(stream, seen, event_id, etype, actor, at, data)
return 1
