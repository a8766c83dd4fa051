-- Take a due item for `lease_ms`: its score moves forward, so if this replica dies another takes it
-- once the lease runs out. Cancelled items are dropped here: the incident field `live_field` no longer
-- holds `live_value` (status=open for escalations; rca_status=due for an RCA reminder), or the field
-- `met_field` is set (acknowledged_at for the acknowledge target; '' when none applies).
local due, job, inc = KEYS[1], KEYS[2], KEYS[3]
local member, owner, lease_ms, max_attempts = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local live_field, live_value, met_field = ARGV[5], ARGV[6], ARGV[7]
local now = now_ms()
local score = redis.call('ZSCORE', due, member)
if not score or tonumber(score) > now then return {'not_due'} end
if redis.call('HGET', inc, live_field) ~= live_value or redis.call('HGET', job, 'sent') == '1'
    or (met_field ~= '' and redis.call('HEXISTS', inc, met_field) == 1) then
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'cancelled'}
end
if redis.call('HEXISTS', job, 'due') == 0 then redis.call('HSET', job, 'due', score) end
local attempt = redis.call('HINCRBY', job, 'attempts', 1)
if attempt > max_attempts then
  -- A ping Slack keeps refusing (archived channel…) must not be retried forever.
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'gave_up', attempt}
end
redis.call('HSET', job, 'owner', owner)
redis.call('ZADD', due, now + lease_ms, member)
return {'claimed', attempt, redis.call('HGET', job, 'due'), now}
